# pgconverge's Alembic driver: runs an Alembic project's revisions one command at a time for as
# long as pgconverge needs it, so Python, SQLAlchemy and the revision scripts load once per
# worker, not per step. Each step runs through the project's own env.py (its engine, its
# transaction settings, its version table), with exactly one revision as the step list.
#
# Protocol: one JSON object per line on stdin, one JSON line answered on stdout for each:
#   {"cmd":"connect","url":"postgresql://..."}   the database the next commands run against
#   {"cmd":"list"}                                {"ok":true,"migrations":[{"version","name","file","down"}]}
#                                                 revisions in dependency order (a merge after its parents)
#   {"cmd":"up","version":"R"} / "down"          {"ok":true,"ran":bool,"sql":[...]} (false: already applied / not applied)
#   {"cmd":"load_schema"}                         an error: Alembic has no schema loader (pgconverge runs schema.sql)
#   {"cmd":"applied"}                             {"ok":true,"versions":[...],"heads":[...]} (every revision
#                                                 alembic_version's heads imply, in list order)
#   {"cmd":"forget","version":"R"}                {"ok":true,"forgotten":[...]}: alembic_version holds heads only,
#                                                 so R is forgotten with its applied descendants (stamp --purge)
#   {"cmd":"quit"}
# `python3 alembic.py --list` (or PGCONVERGE_LIST=1) answers the list command alone and exits.
# A failure answers {"ok":false,"error":{"class","message","file","line","sqlstate"},"sql":[...]}, the
# file and line being the innermost traceback frame in the versions directory when there is one.
# An error outside every revision, in env.py or another file of the script location, carries
# "setup_file" and "setup_line" instead of "file" and "line".
# `sql` is what the command sent to the server, in order (the failing statement last), parameters
# inlined, without SQLAlchemy's and Alembic's introspection and the alembic_version bookkeeping:
# pgconverge infers dependencies from it and writes it into repro scripts.
# Environment: PGCONVERGE_MIGRATIONS (the script_location, default `alembic`), PGCONVERGE_ALEMBIC_INI
# (optional: the project's alembic.ini), PGCONVERGE_DATABASE_URL or DATABASE_URL. The URL reaches
# env.py as the `sqlalchemy.url` option (and `config.attributes["database_url"]`).
# Nothing but answers goes to stdout: anything a revision prints goes to stderr.

import ast
import json
import os
import re
import sys
import traceback

# The project's directories are not pgconverge's to write to (no __pycache__ in versions/).
sys.dont_write_bytecode = True
# This file is named alembic.py: its own directory first on sys.path would shadow the package.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr


def answer(obj):
    PROTOCOL.write(json.dumps(obj) + "\n")
    PROTOCOL.flush()


try:
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext
    from alembic.runtime.migration import MigrationStep
    from alembic.script import ScriptDirectory
    from sqlalchemy import event
    from sqlalchemy.engine import Engine, make_url
except ImportError as e:
    answer({"ok": False, "error": {"class": type(e).__name__,
                                   "message": f"{e} (install Alembic, SQLAlchemy and psycopg: pip install 'alembic>=1.13,<2' 'SQLAlchemy>=2,<3' 'psycopg[binary]>=3.1,<4')"}})
    sys.exit(1)

# What the current command sent (see the protocol comment).
RECORDED = []
INTROSPECTION = re.compile(r"\b(pg_catalog|information_schema|alembic_version)\b|^\s*(show|select current_schema|select version)\b",
                           re.IGNORECASE)


def literal(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def inline(statement, parameters):
    """The statement with its DB-API parameters written in (psycopg's %s / %(name)s style)."""
    if not parameters:
        return statement
    if isinstance(parameters, dict):
        text = re.sub(r"%\((\w+)\)s", lambda m: literal(parameters.get(m.group(1))), statement)
    else:
        values = iter(parameters if isinstance(parameters, (list, tuple)) else [parameters])
        text = re.sub(r"%s", lambda m: literal(next(values, None)), statement)
    return text.replace("%%", "%")


@event.listens_for(Engine, "before_cursor_execute")
def record(conn, cursor, statement, parameters, context, executemany):
    if INTROSPECTION.search(statement):
        return
    if executemany and isinstance(parameters, (list, tuple)):
        RECORDED.extend(inline(statement, p) for p in parameters)
    else:
        RECORDED.append(inline(statement, parameters))


SCRIPT_LOCATION = os.path.abspath(os.environ.get("PGCONVERGE_MIGRATIONS", "alembic"))
INI = os.environ.get("PGCONVERGE_ALEMBIC_INI")


def make_config(url=None):
    config = Config(os.path.abspath(INI)) if INI else Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if url is not None:
        # ConfigParser interpolates `%`: a percent-encoded URL must be escaped.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        config.attributes["database_url"] = url
    return config


SCRIPT = ScriptDirectory.from_config(make_config())
VERSIONS = [os.path.abspath(d) + os.sep for d in (SCRIPT.version_locations or [SCRIPT.versions])]


def parents(script):
    down = script.down_revision
    if down is None:
        return ()
    return (down,) if isinstance(down, str) else tuple(down)


def revisions():
    """Every revision, base first: a revision lists after all of its parents."""
    return list(reversed(list(SCRIPT.walk_revisions())))


def has_down(script):
    """Whether downgrade() does anything: a body other than a docstring and `pass`."""
    with open(script.path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), script.path)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "downgrade":
            return any(not isinstance(s, ast.Pass) and not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)) for s in node.body)
    return False


def listing():
    return [{"version": s.revision, "name": (s.doc or "").strip().splitlines()[0] if (s.doc or "").strip() else "",
             "file": os.path.abspath(s.path), "down": has_down(s)} for s in revisions()]


def sqlalchemy_url(url):
    """A libpq URL (`postgresql://user@localhost/db?host=/socket&port=5432`) for SQLAlchemy's psycopg."""
    parsed = make_url(url)
    try:
        import psycopg  # noqa: F401
        driver = "postgresql+psycopg"
    except ImportError:
        driver = "postgresql+psycopg2"
    # A socket directory in the query (`?host=/dir`) wins over the URL's host, as libpq has it.
    host = None if "host" in parsed.query else parsed.host
    return parsed.set(drivername=driver, host=host).render_as_string(hide_password=False)


class Session:
    url = None

    def run(self, steps_for):
        """Runs env.py once; `steps_for(heads)` chooses the steps from the current heads."""
        if self.url is None:
            raise RuntimeError("no database: send connect first")
        config = make_config(self.url)
        seen = {}

        def fn(heads, context):
            heads = tuple(h for h in (heads if isinstance(heads, (tuple, list)) else (heads,)) if h)
            seen["heads"] = heads
            return steps_for(heads)

        with EnvironmentContext(config, SCRIPT, fn=fn, destination_rev=None):
            SCRIPT.run_env()
        return seen.get("heads", ())

    def heads(self):
        return self.run(lambda heads: [])


def applied_of(heads):
    if not heads:
        return set()
    return {s.revision for s in SCRIPT.iterate_revisions(heads, "base")}


def step(session, direction, version):
    script = SCRIPT.get_revision(version)
    if script is None or script.revision != version:
        raise ValueError(f"no revision {version} in {SCRIPT_LOCATION}")
    ran = {}

    def steps_for(heads):
        applied = version in applied_of(heads)
        if direction == "up" and not applied:
            ran["ran"] = True
            return [MigrationStep.upgrade_from_script(SCRIPT.revision_map, script)]
        if direction == "down" and applied:
            ran["ran"] = True
            return [MigrationStep.downgrade_from_script(SCRIPT.revision_map, script)]
        ran["ran"] = False
        return []

    session.run(steps_for)
    return {"ran": ran.get("ran", False)}


def forget(session, version):
    applied = applied_of(session.heads())
    if version not in applied:
        return []
    children = {}
    for s in revisions():
        for p in parents(s):
            children.setdefault(p, []).append(s.revision)
    gone, todo = set(), [version]
    while todo:
        r = todo.pop()
        if r in gone:
            continue
        gone.add(r)
        todo.extend(children.get(r, []))
    remaining = applied - gone
    heads = [r for r in remaining if not any(c in remaining for c in children.get(r, []))]
    config = make_config(session.url)
    command.stamp(config, heads or "base", purge=True)
    return [s.revision for s in revisions() if s.revision in gone & applied]


def error_of(exc, files):
    frame = None
    # Outside the revisions: env.py (or another file of the script location) failed, the
    # project's setup rather than a revision.
    setup = None
    for f in traceback.extract_tb(exc.__traceback__):
        if any(os.path.abspath(f.filename).startswith(d) for d in files):
            frame = f
        elif os.path.abspath(f.filename).startswith(SCRIPT_LOCATION + os.sep):
            setup = f
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    message = str(orig if orig is not None else exc).strip()
    error = {"class": type(exc).__name__, "message": message, "file": frame and os.path.abspath(frame.filename),
             "line": frame and frame.lineno, "sqlstate": sqlstate}
    if frame is None and setup is not None:
        error.update(setup_file=os.path.abspath(setup.filename), setup_line=setup.lineno)
    return error


def main():
    if sys.argv[1:2] == ["--list"] or os.environ.get("PGCONVERGE_LIST") == "1":
        try:
            answer({"ok": True, "migrations": listing()})
        except BaseException as e:  # a revision file may raise anything at import
            answer({"ok": False, "error": error_of(e, VERSIONS)})
        return
    session = Session()
    url = os.environ.get("PGCONVERGE_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        session.url = sqlalchemy_url(url)
    for line in sys.stdin:
        if not line.strip():
            continue
        RECORDED.clear()
        try:
            request = json.loads(line)
            cmd = request.get("cmd")
            if cmd == "connect":
                session.url = sqlalchemy_url(request["url"])
                # An env.py that prefers DATABASE_URL to sqlalchemy.url finds this database too.
                os.environ["DATABASE_URL"] = session.url
                answer({"ok": True})
            elif cmd == "list":
                answer({"ok": True, "migrations": listing()})
            elif cmd in ("up", "down"):
                answer({"ok": True, **step(session, cmd, str(request["version"])), "sql": list(RECORDED)})
            elif cmd == "load_schema":
                answer({"ok": False, "error": {"class": "NotImplementedError",
                                               "message": "Alembic has no schema loader: pgconverge runs schema.sql itself"}})
            elif cmd == "applied":
                heads = session.heads()
                applied = applied_of(heads)
                answer({"ok": True, "versions": [s.revision for s in revisions() if s.revision in applied], "heads": sorted(heads)})
            elif cmd == "forget":
                answer({"ok": True, "forgotten": forget(session, str(request["version"]))})
            elif cmd == "quit":
                answer({"ok": True})
                break
            else:
                answer({"ok": False, "error": {"class": "ValueError", "message": f"unknown command {cmd!r}"}})
        except BaseException as e:  # a revision may raise anything; the driver must answer
            if isinstance(e, KeyboardInterrupt):
                raise
            answer({"ok": False, "error": error_of(e, VERSIONS), "sql": list(RECORDED)})


main()
