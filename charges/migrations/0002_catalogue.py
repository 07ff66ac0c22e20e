from django.db import migrations


def install_catalogue(apps, schema_editor):
    from charges.catalogue import install

    install(apps.get_model("charges", "Channel"))


class Migration(migrations.Migration):
    dependencies = [("charges", "0001_initial")]

    operations = [migrations.RunPython(install_catalogue, migrations.RunPython.noop)]
