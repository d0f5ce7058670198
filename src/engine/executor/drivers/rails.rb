# pgconverge's ActiveRecord driver: runs a Rails project's migrations one command at a time for
# as long as pgconverge needs it, so Ruby and ActiveRecord load once per worker, not per step.
#
# Protocol: one JSON object per line on stdin, one JSON line answered on stdout for each:
#   {"cmd":"connect","url":"postgresql://..."}   the database the next commands run against
#   {"cmd":"list"}                                {"ok":true,"migrations":[{"version","name","file","down"}]}
#   {"cmd":"up","version":"V"} / "down"          {"ok":true,"ran":bool,"sql":[...]} (false: skipped, as Rails does)
#   {"cmd":"load_schema","path":"db/schema.rb"}  {"ok":true,"sql":[...]}: loads the file the way db:schema:load does
#   {"cmd":"applied"}                             {"ok":true,"versions":[...]} (schema_migrations)
#   {"cmd":"forget","version":"V"}                deletes the version's schema_migrations row
#   {"cmd":"quit"}
# `ruby rails.rb --list` (or PGCONVERGE_LIST=1, for `bin/rails runner rails.rb`) answers the list
# command alone and exits. Inside an app pgconverge starts it with `bin/rails runner`, so the app's
# gems and initializers load first.
# A failure answers {"ok":false,"error":{"class","message","file","line","sqlstate"},"sql":[...]}, the
# file and line being the innermost frame in a migration (or schema) file when there is one.
# `sql` is what the command sent to the server, in order (the failing statement last), without
# ActiveRecord's own introspection (table_exists? and the like), transaction control, the
# Migrator's advisory lock and bookkeeping (schema_migrations, ar_internal_metadata): pgconverge infers dependencies from it
# and writes it into repro scripts.
# Environment: PGCONVERGE_MIGRATIONS (default db/migrate), PGCONVERGE_DATABASE_URL or DATABASE_URL.
# Nothing but answers goes to stdout: anything a migration prints goes to stderr.

require "json"

PROTOCOL = $stdout.dup
PROTOCOL.sync = true
$stdout.reopen($stderr)

def answer(object)
  PROTOCOL.write(JSON.generate(object) + "\n")
end

begin
  require "active_record"
  require "pg"
rescue LoadError => e
  answer(ok: false, error: { class: e.class.name, message: "#{e.message} (install ActiveRecord and the pg gem, e.g. Debian's ruby-activerecord ruby-pg)" })
  exit 1
end

# What the current command sent (see the protocol comment), with bind values inlined.
RECORDED = []
BOOKKEEPING = /\b(schema_migrations|ar_internal_metadata)\b/
TRANSACTION_CONTROL = /\A\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE\s+SAVEPOINT|END)\b/i
# The Migrator's lock around a run (pg_try_advisory_lock / pg_advisory_unlock): not the migration's.
MIGRATOR_LOCK = /\A\s*SELECT\s+pg_(try_)?advisory_(un)?lock\(/i
ActiveSupport::Notifications.subscribe("sql.active_record") do |*, payload|
  sql = payload[:sql].to_s
  next if %w[SCHEMA TRANSACTION].include?(payload[:name]) || sql =~ TRANSACTION_CONTROL || sql =~ BOOKKEEPING || sql =~ MIGRATOR_LOCK

  binds = payload[:type_casted_binds]
  binds = binds.call if binds.respond_to?(:call)
  if binds.is_a?(Array) && !binds.empty? && (connection = payload[:connection])
    sql = sql.gsub(/\$(\d+)/) { binds[Regexp.last_match(1).to_i - 1].then { |v| connection.quote(v) } }
  end
  RECORDED << sql
end

ActiveRecord::Base.logger = nil
ActiveRecord::Migration.verbose = false
ActiveRecord::Schema.verbose = false
MIGRATIONS = File.expand_path(ENV.fetch("PGCONVERGE_MIGRATIONS", "db/migrate"))
ActiveRecord::Migrator.migrations_paths = [MIGRATIONS]

# ActiveRecord 6.1 drops a URL's query (host=/socket/dir), so libpq parses it.
def connect(url)
  options = PG::Connection.conninfo_parse(url).select { |o| o[:val] }.to_h { |o| [o[:keyword], o[:val]] }
  ActiveRecord::Base.remove_connection if ActiveRecord::Base.connected?
  ActiveRecord::Base.establish_connection(
    adapter: "postgresql", host: options["host"], port: options["port"], username: options["user"],
    password: options["password"], database: options["dbname"], migrations_paths: [MIGRATIONS]
  )
end

def context
  ActiveRecord::MigrationContext.new([MIGRATIONS], ActiveRecord::SchemaMigration)
end

# Each command starts as a new `rails db:migrate` process would: no model remembers the columns
# of a table as an earlier command, or another case's database, left it (a migration that uses a
# model would otherwise see columns that are gone, or miss new ones).
def forget_cached_schema
  ActiveRecord::Base.descendants.each do |model|
    model.reset_column_information unless model.abstract_class?
  rescue StandardError
    nil
  end
  ActiveRecord::Base.connection_pool.connections.each { |c| c.schema_cache.clear! } if ActiveRecord::Base.connected?
end

def applied
  ActiveRecord::SchemaMigration.create_table
  ActiveRecord::SchemaMigration.all_versions
end

def proxy(version)
  context.migrations.find { |m| m.version.to_s == version.to_s } or
    raise ArgumentError, "no migration with version #{version} in #{MIGRATIONS}"
end

# Whether the migration can be undone: it defines `down` or `change`.
def reversible?(migration)
  require File.expand_path(migration.filename)
  methods = migration.name.constantize.instance_methods(false)
  methods.include?(:down) || methods.include?(:change)
end

def run(direction, version)
  migration = proxy(version)
  before = applied.include?(migration.version.to_s)
  context.run(direction, migration.version)
  { ran: direction == :up ? !before : before }
end

def error_of(exception, files)
  # The Migrator re-raises a failure as a StandardError ("An error has occurred, ...") with
  # the original backtrace as strings: report the original, located from those strings.
  shown = exception.cause && exception.message.start_with?("An error has occurred") ? exception.cause : exception
  frame = (exception.backtrace || []).lazy.map { |l| l.match(/\A(.+?):(\d+)(?::in |\z)/) }.find do |m|
    m && files.any? { |f| File.expand_path(m[1]).start_with?(f) }
  end
  pg = shown
  pg = pg.cause while pg.cause && !pg.is_a?(PG::Error)
  sqlstate = pg.is_a?(PG::Error) && pg.result ? pg.result.error_field(PG::PG_DIAG_SQLSTATE) : nil
  { class: shown.class.name, message: shown.message.strip, file: frame && File.expand_path(frame[1]), line: frame && frame[2].to_i,
    sqlstate: sqlstate }
end

# `--list`: the list answer alone, without a database (what pgconverge asks before any case).
if ARGV.first == "--list" || ENV["PGCONVERGE_LIST"] == "1"
  begin
    answer(ok: true, migrations: context.migrations.map { |m| { version: m.version.to_s, name: m.name, file: File.expand_path(m.filename), down: reversible?(m) } })
  rescue Exception => e # rubocop:disable Lint/RescueException
    answer(ok: false, error: error_of(e, [MIGRATIONS + "/"]))
  end
  exit
end

if (url = ENV["PGCONVERGE_DATABASE_URL"] || ENV["DATABASE_URL"])
  connect(url)
end

$stdin.each_line do |line|
  next if line.strip.empty?

  files = [MIGRATIONS + "/"]
  RECORDED.clear
  forget_cached_schema
  begin
    command = JSON.parse(line)
    case command["cmd"]
    when "connect"
      connect(command.fetch("url"))
      answer(ok: true)
    when "list"
      migrations = context.migrations.map do |m|
        { version: m.version.to_s, name: m.name, file: File.expand_path(m.filename), down: reversible?(m) }
      end
      answer(ok: true, migrations: migrations)
    when "up", "down"
      answer({ ok: true, sql: RECORDED }.merge(run(command["cmd"].to_sym, command.fetch("version"))))
    when "load_schema"
      path = File.expand_path(command.fetch("path"))
      files << path
      load path
      answer(ok: true, sql: RECORDED)
    when "applied"
      answer(ok: true, versions: applied)
    when "forget"
      ActiveRecord::SchemaMigration.where(version: command.fetch("version").to_s).delete_all
      answer(ok: true)
    when "quit"
      answer(ok: true)
      break
    else
      answer(ok: false, error: { class: "ArgumentError", message: "unknown command #{command['cmd'].inspect}" })
    end
  rescue Exception => e # rubocop:disable Lint/RescueException -- a migration may raise anything; the driver must answer
    answer(ok: false, error: error_of(e, files), sql: RECORDED)
  end
  # The connection stays for the next command on the same database (a new connection costs
  # ActiveRecord a type-map load); pgconverge drops a scratch database WITH (FORCE), which ends it.
end
