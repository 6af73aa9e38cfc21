#!/bin/sh
# The sftp service: one account ($SFTP_USER), public-key authentication only, SFTP only, read-only, chrooted to
# /srv/sftp; the batches (<date>/<file>) are at /incoming, which is [wine] remote_root in
# docker/luigi.docker.cfg. The host key and authorized_keys come from the sftp-host-keys volume (see keygen.sh).
set -eu

: "${SFTP_USER:?set SFTP_USER}"
SFTP_UID="${SFTP_UID:-10002}"
KEYS=/etc/winepipe-sftp/keys

for f in ssh_host_ed25519_key authorized_keys; do
    if [ ! -s "$KEYS/$f" ]; then
        echo "sftp: $KEYS/$f is missing; the sftp-keys init service creates it (docker compose up sftp-keys)" >&2
        exit 1
    fi
done

if ! id -u "$SFTP_USER" >/dev/null 2>&1; then
    useradd --no-create-home --home-dir /incoming --shell /usr/sbin/nologin --uid "$SFTP_UID" "$SFTP_USER"
    # No usable password, but not "locked" either: with UsePAM no, sshd refuses even key logins of a locked
    # account (useradd's default "!").
    usermod -p '*' "$SFTP_USER"
fi

cat > /etc/ssh/sshd_config <<CONFIG
Port 22
HostKey $KEYS/ssh_host_ed25519_key
AuthorizedKeysFile $KEYS/authorized_keys
AllowUsers $SFTP_USER
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
PermitRootLogin no
UsePAM no
StrictModes yes
AllowTcpForwarding no
AllowAgentForwarding no
AllowStreamLocalForwarding no
PermitTunnel no
X11Forwarding no
PermitTTY no
PermitUserRC no
LogLevel INFO
Subsystem sftp internal-sftp
ChrootDirectory /srv/sftp
ForceCommand internal-sftp -R -d /incoming
CONFIG

/usr/sbin/sshd -t -f /etc/ssh/sshd_config
exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
