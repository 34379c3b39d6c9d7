"""Timeline events of deadlines, supervision, safety follow-up and the petitioner's loop get kinds of their own.

Until now the supervision app wrote its events as progress notes (``kind="note"``) marked
with ``data["supervision"]``; they are moved to the new kinds so that timelines label them
properly and a progress-note count no longer includes them.
"""

from django.db import migrations, models

#: data["supervision"] marker -> the kind it now has.
SUPERVISION_KINDS = {
    "clock_paused": "clock_paused",
    "clock_resumed": "clock_resumed",
    "extension_requested": "extension_requested",
    "extension_decided": "extension_decided",
    "deadline_warning": "deadline_warning",
    "chase": "chased",
    "chase_answered": "chase_answered",
}


def forwards(apps, schema_editor):
    CaseEvent = apps.get_model("cases", "CaseEvent")
    for marker, kind in SUPERVISION_KINDS.items():
        CaseEvent.objects.filter(kind="note", data__supervision=marker).update(kind=kind)


def backwards(apps, schema_editor):
    CaseEvent = apps.get_model("cases", "CaseEvent")
    for marker, kind in SUPERVISION_KINDS.items():
        CaseEvent.objects.filter(kind=kind, data__supervision=marker).update(kind="note")


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0005_drop_covered_fk_indexes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='caseevent',
            name='kind',
            field=models.CharField(choices=[('registered', 'Registered'), ('contact', 'Contact recorded'), ('dispatched', 'Dispatched'), ('signed_for', 'Signed for'), ('returned', 'Returned'), ('return_ruled', 'Return ruled'), ('forwarded', 'Forwarded down'), ('first_contact', 'First contact with the petitioner'), ('note', 'Progress note'), ('completed', 'Completed'), ('accepted', 'Result accepted'), ('sent_back', 'Sent back for more work'), ('resolved', 'Resolved'), ('closed', 'Closed'), ('answered', 'Answered directly'), ('not_accepted', 'Not accepted'), ('merged', 'Merged'), ('unmerged', 'Merge undone'), ('transfer_requested', 'Transfer requested'), ('transfer_accepted', 'Transfer accepted'), ('transfer_refused', 'Transfer refused'), ('emergency_handoff', 'Handed to emergency services'), ('attachment', 'Attachment added'), ('clock_paused', 'Deadlines paused'), ('clock_resumed', 'Deadlines resumed'), ('extension_requested', 'More time asked for'), ('extension_decided', 'Request for more time decided'), ('deadline_warning', 'Deadline warning'), ('chased', 'Reminder or supervision'), ('chase_answered', 'Reminder answered'), ('safety_opened', 'Safety follow-up opened'), ('safety_reviewed', 'Safety review'), ('safety_ended', 'Safety follow-up ended'), ('rated', 'Rated by the petitioner'), ('return_visit', 'Return visit'), ('rework', 'Sent back for rework'), ('reopened', 'Reopened')], max_length=24),
        ),
        migrations.RunPython(forwards, backwards),
    ]
