"""The payer's sending address is recorded in its network's normal form (the scanner calls
chains.addresses.normalize_address), and indexed for the orders list's from_address filter.
Senders recorded before (EVM ones in lower case) are put in that form here."""

from django.db import migrations, models

from chains.addresses import normalize_address


def normalize_senders(apps, schema_editor):
    Transfer = apps.get_model("wallets", "Transfer")
    changed = []
    rows = Transfer.objects.exclude(sender="").exclude(simulated=True).values_list("pk", "network", "mode", "sender")
    for pk, network, mode, sender in rows.iterator(chunk_size=2000):
        normal = normalize_address(network=network, mode=mode, address=sender)
        if normal != sender:
            changed.append(Transfer(pk=pk, sender=normal))
        if len(changed) >= 2000:
            Transfer.objects.bulk_update(changed, ["sender"])
            changed = []
    if changed:
        Transfer.objects.bulk_update(changed, ["sender"])


class Migration(migrations.Migration):

    dependencies = [
        ('wallets', '0004_chaincursor_node_synced_chaincursor_scanned_at'),
    ]

    operations = [
        migrations.RunPython(normalize_senders, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='transfer',
            index=models.Index(fields=['mode', 'sender'], name='transfer_sender_idx'),
        ),
    ]
