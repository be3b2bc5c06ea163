from django.db import migrations


def small_pending_list(apps, schema_editor):
    # GIN's fast-update pending list is scanned sequentially by every search until it is
    # merged; bulk ingestion can grow it to megabytes. A small limit keeps searches fast.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER INDEX monitor_mention_search_doc SET (gin_pending_list_limit = 256)"
        )


class Migration(migrations.Migration):
    dependencies = [("monitor", "0005_evidence_importjob_apitoken")]
    operations = [migrations.RunPython(small_pending_list, migrations.RunPython.noop)]
