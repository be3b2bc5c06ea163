from django.db import migrations


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE TABLE monitor_mention_search ("
            # No foreign key: Django's test flush truncates only its own tables, and a
            # reference would make that fail. Deletions go through search.unindex_mentions.
            " mention_id bigint PRIMARY KEY,"
            " school_id bigint NOT NULL,"
            " doc tsvector NOT NULL)"
        )
        schema_editor.execute(
            "CREATE INDEX monitor_mention_search_doc ON monitor_mention_search USING gin (doc)"
        )
        schema_editor.execute(
            "CREATE INDEX monitor_mention_search_school ON monitor_mention_search (school_id, mention_id DESC)"
        )
    else:
        schema_editor.execute(
            "CREATE VIRTUAL TABLE monitor_mention_search USING fts5("
            "tokens, content='', tokenize='unicode61 remove_diacritics 0')"
        )


def drop_index(apps, schema_editor):
    schema_editor.execute("DROP TABLE IF EXISTS monitor_mention_search")


class Migration(migrations.Migration):
    dependencies = [("monitor", "0001_initial")]
    operations = [migrations.RunPython(create_index, drop_index)]
