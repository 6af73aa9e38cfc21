#!/usr/bin/env bash
# Installs the Debian packages the local stack runs, when any is missing.
# As root it runs apt-get; otherwise it prints the exact command to run and fails.
set -euo pipefail
need=()
command -v /usr/sbin/sshd >/dev/null 2>&1 || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v mariadbd >/dev/null 2>&1 || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
# The visualiser test screenshots the graph with headless Chromium.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The benchmark's seed-style baseline writes with Spark's JDBC writer (MariaDB Connector/J).
[ -f /usr/share/java/mariadb-java-client.jar ] || need+=(libmariadb-java)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d-less machines would start the distribution's own services; ours use other ports.
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "missing system packages; run: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
