#!/bin/sh
# The sftp-keys init job: creates, on first start, the SSH keys the stack needs, in two volumes:
#
#   /keys/host   (sftp-host-keys; mounted by sftp only)
#       ssh_host_ed25519_key[.pub]  the server's host key
#       authorized_keys             the pipeline's public key, `restrict`ed
#   /keys/client (sftp-client-keys; mounted read-only by the pipeline at /etc/winepipe/sftp)
#       id_ed25519[.pub]            the pipeline's client key, owned by the pipeline's uid, passphrase
#                                   $SFTP_KEY_PASSPHRASE (may be empty)
#       known_hosts                 the server's host key for "$SFTP_HOST" port $SFTP_PORT: the pipeline verifies
#                                   the server against it and never accepts an unknown host key
#
# Idempotent: existing keys are kept (restarts keep the same fingerprints); the derived files are rewritten.
# The private keys never leave these volumes. To rotate, remove the volumes (docker compose down, then
# docker volume rm <project>_sftp-host-keys <project>_sftp-client-keys) and start again.
set -eu

HOST_DIR=/keys/host
CLIENT_DIR=/keys/client
SFTP_HOST="${SFTP_HOST:-sftp}"
SFTP_PORT="${SFTP_PORT:-22}"
CLIENT_UID="${CLIENT_UID:-10001}"
CLIENT_GID="${CLIENT_GID:-$CLIENT_UID}"

umask 077
mkdir -p "$HOST_DIR" "$CLIENT_DIR"

if [ ! -s "$HOST_DIR/ssh_host_ed25519_key" ]; then
    ssh-keygen -q -t ed25519 -N '' -C "winepipe-sftp-host" -f "$HOST_DIR/ssh_host_ed25519_key"
    echo "sftp-keys: generated the SFTP host key"
fi
if [ ! -s "$CLIENT_DIR/id_ed25519" ]; then
    ssh-keygen -q -t ed25519 -N "${SFTP_KEY_PASSPHRASE:-}" -C "winepipe-pipeline" -f "$CLIENT_DIR/id_ed25519"
    echo "sftp-keys: generated the pipeline's client key"
fi

# authorized_keys: the client key only, without forwarding, pty or rc (sshd forces internal-sftp anyway).
printf 'restrict %s\n' "$(cat "$CLIENT_DIR/id_ed25519.pub")" > "$HOST_DIR/authorized_keys.tmp"
mv "$HOST_DIR/authorized_keys.tmp" "$HOST_DIR/authorized_keys"

# known_hosts: OpenSSH's host pattern is the bare name on port 22, [name]:port otherwise.
if [ "$SFTP_PORT" = 22 ]; then pattern="$SFTP_HOST"; else pattern="[$SFTP_HOST]:$SFTP_PORT"; fi
read -r keytype keydata _ < "$HOST_DIR/ssh_host_ed25519_key.pub"
printf '%s %s %s\n' "$pattern" "$keytype" "$keydata" > "$CLIENT_DIR/known_hosts.tmp"
mv "$CLIENT_DIR/known_hosts.tmp" "$CLIENT_DIR/known_hosts"

# sshd's StrictModes: authorized_keys and its directory owned by root and not writable by others.
chown -R root:root "$HOST_DIR"
chmod 0755 "$HOST_DIR"
chmod 0600 "$HOST_DIR/ssh_host_ed25519_key"
chmod 0644 "$HOST_DIR/ssh_host_ed25519_key.pub" "$HOST_DIR/authorized_keys"
# The client side belongs to the pipeline's non-root user (the Dockerfile's WINEPIPE_UID).
chown -R "$CLIENT_UID:$CLIENT_GID" "$CLIENT_DIR"
chmod 0700 "$CLIENT_DIR"
chmod 0600 "$CLIENT_DIR/id_ed25519"
chmod 0644 "$CLIENT_DIR/id_ed25519.pub" "$CLIENT_DIR/known_hosts"

echo "sftp-keys: host key $(ssh-keygen -l -f "$HOST_DIR/ssh_host_ed25519_key.pub")"
