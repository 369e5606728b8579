#!/bin/sh
# Run once by the postgres image on an empty data directory: the shop's and Keycloak's roles and databases.
set -eu
psql -v ON_ERROR_STOP=1 --username postgres <<SQL
CREATE ROLE cartograph LOGIN PASSWORD '${SHOP_DB_PASSWORD}';
CREATE DATABASE cartograph OWNER cartograph;
CREATE ROLE keycloak LOGIN PASSWORD '${KEYCLOAK_DB_PASSWORD}';
CREATE DATABASE keycloak OWNER keycloak;
SQL
