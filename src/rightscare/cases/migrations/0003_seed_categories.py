from django.db import migrations


def seed(apps, schema_editor):
    from rightscare.cases.taxonomy import seed_categories

    seed_categories(apps.get_model("cases", "Category"))


def unseed(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    if not apps.get_model("cases", "Case").objects.exists():
        Category.objects.filter(parent__isnull=False).delete()
        Category.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_initial")]

    operations = [migrations.RunPython(seed, unseed)]
