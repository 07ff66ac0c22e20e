"""A deleted or canceled order lets go of its merchant_order_id (Order.reference_released):
the one-live-order-per-reference constraint now covers only the orders that hold theirs. The
orders already deleted or canceled release theirs here."""

from django.db import migrations, models
from django.db.models import Q


def release_references(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    Order.objects.filter(Q(deleted_at__isnull=False) | Q(status="canceled"),
                         merchant_order_id__isnull=False).update(reference_released=True)


class Migration(migrations.Migration):

    dependencies = [
        ('charges', '0003_exchangerate'),
        ('merchants', '0004_notice_kind_choices'),
        ('orders', '0006_alter_order_payment_exception_and_more'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='order',
            name='order_unique_merchant_order_id',
        ),
        migrations.AddField(
            model_name='order',
            name='reference_released',
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.RunPython(release_references, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['merchant', 'mode', 'merchant_order_id'], name='order_moid_idx'),
        ),
        migrations.AddConstraint(
            model_name='order',
            constraint=models.UniqueConstraint(condition=models.Q(('merchant_order_id__isnull', False), ('reference_released', False)), fields=('merchant', 'mode', 'merchant_order_id'), name='order_unique_merchant_order_id'),
        ),
    ]
