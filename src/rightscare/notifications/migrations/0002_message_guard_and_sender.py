"""Messages may carry a sender name (an SMS signature), a check before sending, and be withdrawn."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0001_outbox_and_templates'),
    ]

    operations = [
        migrations.AddField(
            model_name='message',
            name='guard',
            field=models.CharField(blank=True, max_length=32, verbose_name='check before sending'),
        ),
        migrations.AddField(
            model_name='message',
            name='guard_data',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name='message',
            name='sender_name',
            field=models.CharField(blank=True, max_length=60, verbose_name='sender name'),
        ),
        migrations.AlterField(
            model_name='message',
            name='status',
            field=models.CharField(choices=[('pending', 'waiting to be sent'), ('sending', 'being sent'), ('sent', 'sent'), ('failed', 'failed'), ('cancelled', 'withdrawn before sending')], default='pending', max_length=16, verbose_name='status'),
        ),
    ]
