# Every signed POST inserts a RequestNonce: its primary key is looked up whole (the replay
# check), never by prefix, so the varchar_pattern_ops index Django adds beside it only costs
# an index entry per request (core/dbindexes.py).

import core.dbindexes
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("merchants", "0006_auto_refund"),
    ]

    operations = [
        core.dbindexes.DropLikeIndex("merchants_requestnonce", "signature_hash"),
    ]
