// Development OpenID Provider for Cartograph.
//
// Built on oidc-provider 9.13.3 (OpenID Certified). DEVELOPMENT ONLY: in-memory
// storage, committed signing key, any password accepted, any loopback
// redirect URI accepted.
//
//   node dev/oidc/provider.mjs
//
// Environment (all optional):
//   OIDC_PORT                       listen port on 127.0.0.1 (default 9400)
//   OIDC_ISSUER                     issuer URL (default http://127.0.0.1:${OIDC_PORT})
//   OIDC_CLIENT_ID                  (default cartograph)
//   OIDC_CLIENT_SECRET              (default cartograph-dev-secret)
//   OIDC_REDIRECT_URIS              comma separated (default http://127.0.0.1:3000/auth/callback)
//   OIDC_POST_LOGOUT_REDIRECT_URIS  comma separated (default http://127.0.0.1:3000/)
//   OIDC_TLS_CERT, OIDC_TLS_KEY     PEM files: serve HTTPS with them (the issuer's default becomes https://)
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { fileURLToPath } from 'node:url';

import Provider from 'oidc-provider';

const HOST = '127.0.0.1';
const rawPort = process.env.OIDC_PORT ?? '9400';
const PORT = Number.parseInt(rawPort, 10);
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535 || String(PORT) !== rawPort.trim()) {
  console.error(`oidc-provider: invalid OIDC_PORT ${JSON.stringify(rawPort)}`);
  process.exit(2);
}
const TLS = process.env.OIDC_TLS_CERT && process.env.OIDC_TLS_KEY
  ? { cert: readFileSync(process.env.OIDC_TLS_CERT), key: readFileSync(process.env.OIDC_TLS_KEY) }
  : null;
const ISSUER = (process.env.OIDC_ISSUER || `${TLS ? 'https' : 'http'}://${HOST}:${PORT}`).replace(/\/+$/, '');

const CLIENT_ID = process.env.OIDC_CLIENT_ID || 'cartograph';
const CLIENT_SECRET = process.env.OIDC_CLIENT_SECRET || 'cartograph-dev-secret';
const list = (value, fallback) => (value || fallback).split(',').map((s) => s.trim()).filter(Boolean);
const REDIRECT_URIS = list(process.env.OIDC_REDIRECT_URIS, 'http://127.0.0.1:3000/auth/callback');
const POST_LOGOUT_REDIRECT_URIS = list(process.env.OIDC_POST_LOGOUT_REDIRECT_URIS, 'http://127.0.0.1:3000/');

const SCOPES = ['openid', 'email', 'profile', 'groups'];
const CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'preferred_username'],
  groups: ['groups'],
};

// Committed dev-only signing key, so tokens verify across restarts.
const jwks = JSON.parse(readFileSync(fileURLToPath(new URL('./jwks.json', import.meta.url)), 'utf8'));

// ---------------------------------------------------------------- accounts --
const USERS = {
  shopper: { name: 'Sam Shopper', email: 'shopper@cartograph.test', groups: [] },
  admin: { name: 'Ada Admin', email: 'admin@cartograph.test', groups: ['cartograph-admin'] },
};

function userFor(login) {
  if (Object.hasOwn(USERS, login)) return USERS[login];
  // Any other login is a plain shopper named after the login.
  const local = login.toLowerCase().replace(/[^a-z0-9._+-]+/g, '-') || 'user';
  return { name: login, email: `${local}@cartograph.test`, groups: [] };
}

async function findAccount(ctx, id) {
  if (typeof id !== 'string' || id.length === 0) return undefined;
  const user = userFor(id);
  return {
    accountId: id,
    async claims() {
      return {
        sub: id,
        email: user.email,
        email_verified: true,
        name: user.name,
        preferred_username: id,
        groups: [...user.groups],
      };
    },
  };
}

// -------------------------------------------------------------- consent ----
// Cartograph is a first-party client: grant it every scope and claim it asks
// for, so the consent prompt never shows for it. Other clients (none are
// configured) would keep the default behaviour.
async function loadExistingGrant(ctx) {
  const { client, session, result, provider } = ctx.oidc;
  const grantId = result?.consent?.grantId || session.grantIdFor(client.clientId);
  let grant = grantId ? await provider.Grant.find(grantId) : undefined;

  if (client.clientId !== CLIENT_ID) return grant;

  if (!grant) {
    grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
  }
  grant.addOIDCScope(SCOPES.join(' '));
  const requestedClaims = [...ctx.oidc.requestParamClaims];
  if (requestedClaims.length) grant.addOIDCClaims(requestedClaims);
  await grant.save();
  return grant;
}

// --------------------------------------------------------------- provider --
const configuration = {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      client_name: 'Cartograph (dev)',
      application_type: 'web',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: REDIRECT_URIS,
      post_logout_redirect_uris: POST_LOGOUT_REDIRECT_URIS,
    },
  ],
  // client_secret_post is accepted too, for clients that prefer it.
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  responseTypes: ['code'],
  scopes: SCOPES,
  claims: CLAIMS,
  conformIdTokenClaims: false, // put email/name/groups in the ID token
  pkce: { required: () => true }, // S256 is the only method oidc-provider 9 supports
  findAccount,
  loadExistingGrant,
  jwks,
  ttl: {
    AuthorizationCode: 60,
    Interaction: 60 * 60,
    Session: 14 * 24 * 60 * 60,
    Grant: 14 * 24 * 60 * 60,
    AccessToken: 60 * 60,
    IdToken: 60 * 60,
  },
  cookies: { keys: ['cartograph-dev-cookie-key-1', 'cartograph-dev-cookie-key-2'] },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    revocation: { enabled: true },
  },
};

const provider = new Provider(ISSUER, configuration);

// Accept any loopback redirect URI so tests can run the app on random ports.
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost']);
function loopbackHttp(value) {
  if (typeof value !== 'string') return undefined;
  const url = URL.parse(value);
  if (!url || url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  if (url.username || url.password || url.hash || value.includes('#')) return undefined;
  return url;
}

const { redirectUriAllowed, postLogoutRedirectUriAllowed } = provider.Client.prototype;
provider.Client.prototype.redirectUriAllowed = function devRedirectUriAllowed(value) {
  if (redirectUriAllowed.call(this, value)) return true;
  if (this.clientId !== CLIENT_ID) return false;
  const url = loopbackHttp(value);
  return !!url && url.pathname === '/auth/callback' && url.search === '';
};
provider.Client.prototype.postLogoutRedirectUriAllowed = function devPostLogoutRedirectUriAllowed(value) {
  if (postLogoutRedirectUriAllowed.call(this, value)) return true;
  if (this.clientId !== CLIENT_ID) return false;
  return !!loopbackHttp(value);
};

// The built-in pages @import a web font from a public CDN; drop it so pages are
// self-contained (no outside requests from test browsers).
provider.use(async (ctx, next) => {
  await next();
  if (typeof ctx.body === 'string' && ctx.response.is('html')) {
    ctx.body = ctx.body.replace(/@import url\(https?:\/\/[^)]*\);?/g, '');
  }
});

provider.on('server_error', (ctx, err) => {
  console.error(`oidc-provider: server_error on ${ctx.method} ${ctx.path}:`, err);
});

// ----------------------------------------------------------------- server --
const server = TLS ? createTlsServer(TLS, provider.callback()) : createServer(provider.callback());

server.on('error', (err) => {
  if (err.code === 'EADDRINUSE') {
    console.error(`oidc-provider: port ${PORT} on ${HOST} is already in use (set OIDC_PORT to use another port)`);
  } else {
    console.error(`oidc-provider: cannot listen on ${HOST}:${PORT}: ${err.message}`);
  }
  process.exit(1);
});

server.listen(PORT, HOST, () => {
  console.log(`oidc-provider listening on ${ISSUER}`);
});

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`oidc-provider: ${signal} received, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
