#!/bin/bash
# Creates the pipeline's database and account and luigid's task-history database and account.
#
# The mysql image runs this once, when the mysql-data volume is empty (first start), against its temporary
# server, before the server accepts TCP connections (so the mysql service is not healthy before this is done).
# Changing a password in .env later does not change it here: use ALTER USER, or `docker compose down -v`
# (which deletes ALL data volumes). The file is sourced by the image's entrypoint (it is not executable), which
# provides docker_process_sql (mysql as root over the socket); the fallback covers running it executable.
# No `set -e`/`exit` here: a sourced file shares the entrypoint's shell, which already runs with `set -eo pipefail`.

if ! declare -F docker_process_sql >/dev/null; then
	docker_process_sql() { mysql --protocol=socket -uroot -p"${MYSQL_ROOT_PASSWORD}" --comments "$@"; }
fi

: "${WINEPIPE_MYSQL_DATABASE:?}" "${WINEPIPE_MYSQL_USER:?}" "${WINEPIPE_MYSQL_PASSWORD:?}"
: "${LUIGID_DB_NAME:?}" "${LUIGID_DB_USER:?}" "${LUIGID_DB_PASSWORD:?}"

# SQL string literals: escape backslashes, double single quotes.
_winepipe_sql_quote() { local v="${1//\\/\\\\}"; printf "%s" "${v//\'/\'\'}"; }

# The pipeline's account gets only what a load needs (migrations, staging table, LOAD DATA LOCAL, upsert,
# marker), on its own database only. LOAD DATA LOCAL needs no privilege beyond INSERT, but the server must allow
# it: docker-compose.yml starts mysqld with --local-infile=1.
docker_process_sql --database=mysql <<-EOSQL
	CREATE DATABASE IF NOT EXISTS \`${WINEPIPE_MYSQL_DATABASE}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
	CREATE USER IF NOT EXISTS '$(_winepipe_sql_quote "${WINEPIPE_MYSQL_USER}")'@'%'
	    IDENTIFIED BY '$(_winepipe_sql_quote "${WINEPIPE_MYSQL_PASSWORD}")';
	GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, CREATE TEMPORARY TABLES, LOCK TABLES
	    ON \`${WINEPIPE_MYSQL_DATABASE}\`.* TO '$(_winepipe_sql_quote "${WINEPIPE_MYSQL_USER}")'@'%';

	CREATE DATABASE IF NOT EXISTS \`${LUIGID_DB_NAME}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
	CREATE USER IF NOT EXISTS '$(_winepipe_sql_quote "${LUIGID_DB_USER}")'@'%'
	    IDENTIFIED BY '$(_winepipe_sql_quote "${LUIGID_DB_PASSWORD}")';
	GRANT ALL PRIVILEGES ON \`${LUIGID_DB_NAME}\`.* TO '$(_winepipe_sql_quote "${LUIGID_DB_USER}")'@'%';
EOSQL
