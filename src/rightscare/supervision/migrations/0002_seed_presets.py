from django.db import migrations


def seed(apps, schema_editor):
    from rightscare.supervision.clocks import ensure_presets

    ensure_presets(apps.get_model("supervision", "ClockPolicy"))


def unseed(apps, schema_editor):
    ClockPolicy = apps.get_model("supervision", "ClockPolicy")
    if not apps.get_model("supervision", "WorkOrderClock").objects.exists():
        ClockPolicy.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("supervision", "0001_clocks")]

    operations = [migrations.RunPython(seed, unseed)]
