#!/bin/bash
# Healthy when sshd answers with an SSH-2.0 banner on port 22 (bash's /dev/tcp: no extra packages).
exec 3<>/dev/tcp/127.0.0.1/22 || exit 1
IFS= read -r -t 5 banner <&3 || exit 1
[[ $banner == SSH-2.0-* ]]
