"""The local stack of real services (sshd, moto's S3, MariaDB, Redis, luigid) on loopback."""
