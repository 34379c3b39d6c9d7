"""The petitioner's channels (WeChat followers) and what she was told of her case (petitioner notices)."""

import django.db.models.deletion
import rightscare.core.fields
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0001_initial'),
        ('notifications', '0002_message_guard_and_sender'),
        ('registry', '0002_person_name_prefix_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='WeChatFollower',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('openid', rightscare.core.fields.EncryptedTextField(blank=True, default='', verbose_name='WeChat openid')),
                ('openid_index', rightscare.core.fields.BlindIndexField(blank=True, db_index=True, default='', editable=False, kind='wechat_openid', max_length=80, source='openid')),
                ('following', models.BooleanField(default=True, verbose_name='follows the official account')),
                ('changed_at', models.DateTimeField(verbose_name='followed or unfollowed at')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                ('person', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='wechat_follower', to='registry.person', verbose_name='person')),
            ],
            options={
                'verbose_name': 'WeChat follower',
                'verbose_name_plural': 'WeChat followers',
            },
        ),
        migrations.CreateModel(
            name='PetitionerNotice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event', models.CharField(max_length=64, verbose_name='event')),
                ('round', models.PositiveSmallIntegerField(default=0, verbose_name='round')),
                ('outcome', models.CharField(choices=[('queued', 'in the outbox'), ('held', 'held until her safe hours'), ('not_sent', 'not sent'), ('withdrawn', 'withdrawn before sending')], max_length=16, verbose_name='outcome')),
                ('reason', models.CharField(blank=True, choices=[('no_petitioner', 'The case has no petitioner on file.'), ('respondent', 'The person to tell is a respondent in this case.'), ('child', 'The petitioner is a child under 14 whose guardian may not be told (none on file, or the alleged abuser): a handler decides.'), ('no_instructions', 'No safe-contact instructions are recorded for this sensitive case.'), ('text_not_allowed', 'She said written messages are not safe.'), ('no_address', 'No phone that is safe to text, and she does not follow the official account.'), ('revealing', 'The wording would reveal what she asked to keep hidden.'), ('changed', 'Her contact details or safe-contact instructions changed before it was sent.')], max_length=32, verbose_name='reason')),
                ('channel', models.CharField(blank=True, max_length=32, verbose_name='channel')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                ('case', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='petitioner_notices', to='cases.case', verbose_name='case')),
                ('message', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='notifications.message', verbose_name='message')),
                ('recipient', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='registry.person', verbose_name='recipient')),
            ],
            options={
                'verbose_name': 'notice to the petitioner',
                'verbose_name_plural': 'notices to the petitioner',
                'ordering': ['created_at', 'id'],
                'constraints': [models.UniqueConstraint(fields=('case', 'event', 'round'), name='petitioner_notice_once')],
            },
        ),
    ]
