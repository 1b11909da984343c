"""Indexes that let PostgreSQL answer FerretDB's pushed-down equality without a scan.

FerretDB 1.24 sends a top-level equality `{k: v}` as `_jsonb->'k' @> 'v'` (the key itself
a query parameter), and builds its own indexes as btrees on `_jsonb->'k'`, which `@>`
cannot use: every equality, `_id` included, is a sequential scan of the collection. A GIN
index on the same expressions serves `@>`. The local engine's setup adds one per FerretDB
table, over `_id` and the equality fields of the collection's hot queries
(`storage.hot_queries`), from an event trigger on `CREATE TABLE`, so collections created
later (each test's database, a new collection) get theirs at birth; existing tables get
theirs when the database is opened. PostgreSQL must plan each execution with its values
(`plan_cache_mode = force_custom_plan`, set on the cluster): a generic plan does not know
the key and cannot match the index expressions.

FerretDB's own metadata does not list these indexes; `listIndexes` and `dropIndexes` never
see them, and dropping a collection drops its table with them. None of this exists on
MongoDB, whose indexes (`storage.indexes`) serve the same queries.
"""

from collections import defaultdict

from storage.hot_queries import HOT_QUERIES

FUNCTION = "sightline_equality_index"
TRIGGER = "sightline_equality_indexes"
INDEX_SUFFIX = "_sightline_eq"
# FerretDB names a collection's table `<collection>_<8 hex digits>`.
TABLE_NAME = r"^(.*)_[0-9a-f]{8}$"


def equality_fields() -> dict[str, list[str]]:
    """Per collection, `_id` then the top-level fields its hot queries select by equality."""
    fields: dict[str, list[str]] = defaultdict(lambda: ["_id"])
    for query in HOT_QUERIES:
        for name in query.equality:
            if "." not in name and name not in fields[query.collection]:
                fields[query.collection].append(name)
    return dict(fields)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _columns(fields: list[str]) -> str:
    """The index's column list, as SQL text for format's %s (quotes doubled for plpgsql)."""
    return ", ".join(f"(_jsonb -> {_quoted(name)})" for name in fields)


def setup_sql() -> str:
    """Creates the function and trigger in the current database and indexes its tables."""
    cases = "\n".join(
        f"    WHEN {_quoted(collection)} THEN columns := {_quoted(_columns(fields))};"
        for collection, fields in sorted(equality_fields().items())
    )
    # Built only from the code's own constants and catalog, never from input.
    return f"""
CREATE OR REPLACE FUNCTION {FUNCTION}(schema_name text, table_name text) RETURNS void
LANGUAGE plpgsql AS $body$
DECLARE
  collection text := substring(table_name from {_quoted(TABLE_NAME)});
  columns text := {_quoted(_columns(["_id"]))};
BEGIN
  IF collection IS NULL OR table_name LIKE '\\_ferretdb\\_%' THEN
    RETURN;
  END IF;
  CASE collection
{cases}
    ELSE NULL;
  END CASE;
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin (%s)',
                 table_name || {_quoted(INDEX_SUFFIX)}, schema_name, table_name, columns);
END
$body$;

CREATE OR REPLACE FUNCTION {FUNCTION}_on_create() RETURNS event_trigger
LANGUAGE plpgsql AS $body$
DECLARE
  created record;
BEGIN
  FOR created IN
    SELECT c.relnamespace::regnamespace::text AS schema_name, c.relname::text AS table_name
    FROM pg_event_trigger_ddl_commands() d JOIN pg_class c ON c.oid = d.objid
    WHERE d.command_tag = 'CREATE TABLE' AND c.relkind = 'r'
  LOOP
    PERFORM {FUNCTION}(trim(both '"' from created.schema_name), created.table_name);
  END LOOP;
END
$body$;

DROP EVENT TRIGGER IF EXISTS {TRIGGER};
CREATE EVENT TRIGGER {TRIGGER} ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
  EXECUTE FUNCTION {FUNCTION}_on_create();

SELECT {FUNCTION}(schemaname::text, tablename::text) FROM pg_tables
WHERE schemaname NOT IN ('pg_catalog', 'information_schema');
"""  # noqa: S608
