#!/bin/sh
# The stack's private CA, once per `certs` volume: it signs PostgreSQL's certificate (name `postgres`) and the
# proxy's (the shop's and the provider's names). The shop and Keycloak's users' browsers trust ca.crt.
set -eu
cd /certs
if [ -s ca.crt ] && [ -s postgres.crt ] && [ -s proxy.crt ]; then
  echo "certs: present"
  exit 0
fi
apk add --no-cache openssl >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Cartograph compose CA" \
  -keyout ca.key -out ca.crt
issue() { # NAME SUBJECT-ALT-NAMES
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr"
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$2" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -extfile "$1.ext" -out "$1.crt"
  rm -f "$1.csr" "$1.ext"
}
issue postgres "DNS:postgres"
issue proxy "DNS:shop.cartograph.test,DNS:auth.cartograph.test"
# PostgreSQL (uid 999 in its image) wants its key private to itself; everyone reads the CA and certificates.
chown 999:999 postgres.key
chmod 600 postgres.key proxy.key ca.key
chmod 644 ca.crt postgres.crt proxy.crt
echo "certs: made a CA and the postgres and proxy certificates"
