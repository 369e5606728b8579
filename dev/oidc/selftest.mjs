// End-to-end self test of the Cartograph dev OpenID Provider, without a browser.
//
//   node dev/oidc/provider.mjs &      # or any running instance
//   node dev/oidc/selftest.mjs
//
// Talks to OIDC_ISSUER (default http://127.0.0.1:${OIDC_PORT:-9400}) using
// OIDC_CLIENT_ID / OIDC_CLIENT_SECRET (defaults cartograph / cartograph-dev-secret).
// Exits non-zero on the first failure.
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';

const ISSUER = (process.env.OIDC_ISSUER || `http://127.0.0.1:${process.env.OIDC_PORT || '9400'}`).replace(/\/+$/, '');
const CLIENT_ID = process.env.OIDC_CLIENT_ID || 'cartograph';
const CLIENT_SECRET = process.env.OIDC_CLIENT_SECRET || 'cartograph-dev-secret';
const SCOPE = 'openid email profile groups';

let passed = 0;
function ok(cond, what, extra) {
  if (!cond) {
    const detail = extra === undefined ? '' : `\n  got: ${typeof extra === 'string' ? extra : JSON.stringify(extra)}`;
    throw new Error(`FAIL: ${what}${detail}`);
  }
  passed += 1;
  console.log(`ok ${passed} - ${what}`);
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const decodeJson = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

// Minimal cookie jar (name + path aware, enough for oidc-provider's cookies).
class Jar {
  #cookies = new Map();

  store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = value === '';
      for (const attr of attrs) {
        const [k, v = ''] = attr.split('=');
        if (k.toLowerCase() === 'path') path = v;
        if (k.toLowerCase() === 'expires' && Date.parse(v) <= Date.now()) expired = true;
        if (k.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
      }
      const key = `${name}\u0000${path}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { name, value, path });
    }
  }

  header(url) {
    const { pathname } = new URL(url);
    return [...this.#cookies.values()]
      .filter((c) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

async function request(jar, url, { method = 'GET', form, headers = {} } = {}) {
  const init = { method, redirect: 'manual', headers: { ...headers } };
  const cookie = jar?.header(url);
  if (cookie) init.headers.cookie = cookie;
  if (form) {
    init.body = new URLSearchParams(form).toString();
    init.headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  const res = await fetch(url, init);
  jar?.store(res);
  const body = await res.text();
  const location = res.headers.get('location');
  return {
    url,
    status: res.status,
    body,
    headers: res.headers,
    location: location ? new URL(location, url).href : null,
  };
}

function pkce() {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  return { verifier, challenge };
}

function authUrl(discovery, { redirectUri, state, nonce, challenge, extra = {} }) {
  const url = new URL(discovery.authorization_endpoint);
  const params = {
    client_id: CLIENT_ID,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: SCOPE,
    state,
    nonce,
    ...(challenge ? { code_challenge: challenge, code_challenge_method: 'S256' } : {}),
    ...extra,
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

// Follows redirects inside the provider, submitting the dev login form (and the
// consent form, if it ever shows) until the provider redirects to redirectUri.
async function runLogin(jar, startUrl, redirectUri, login) {
  const seen = { loginPage: null, consentPage: null };
  let res = await request(jar, startUrl);
  for (let hop = 0; hop < 12; hop += 1) {
    if (res.location && res.location.startsWith(redirectUri)) {
      return { callback: new URL(res.location), seen };
    }
    if (res.status >= 300 && res.status < 400 && res.location) {
      res = await request(jar, res.location);
      continue;
    }
    if (res.status !== 200) throw new Error(`unexpected ${res.status} during login flow: ${res.body.slice(0, 500)}`);

    const action = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(res.body)?.[1];
    const prompt = /<input type="hidden" name="prompt" value="([^"]+)"/.exec(res.body)?.[1];
    if (!action || !prompt) throw new Error(`no interaction form found on page: ${res.body.slice(0, 500)}`);
    const pageUrl = res.url;
    if (prompt === 'login') {
      seen.loginPage = { html: res.body, action };
      res = await request(jar, new URL(action, ISSUER).href, {
        method: 'POST',
        form: { prompt: 'login', login, password: 'any-password' },
      });
    } else if (prompt === 'consent') {
      seen.consentPage = { html: res.body, action, pageUrl };
      res = await request(jar, new URL(action, ISSUER).href, { method: 'POST', form: { prompt: 'consent' } });
    } else {
      throw new Error(`unknown prompt ${prompt}`);
    }
  }
  throw new Error('too many hops in login flow');
}

async function verifyJwt(jwt, jwks) {
  const [h, p, s] = jwt.split('.');
  const header = decodeJson(h);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`no JWKS key for kid ${header.kid}`);
  if (header.alg !== 'RS256') throw new Error(`unexpected alg ${header.alg}`);
  const valid = verify('sha256', Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url'));
  return { header, payload: decodeJson(p), valid };
}

async function tokenRequest(discovery, form, auth = 'basic') {
  const headers = { accept: 'application/json' };
  const body = { ...form };
  if (auth === 'basic') {
    const enc = (v) => encodeURIComponent(v);
    headers.authorization = `Basic ${Buffer.from(`${enc(CLIENT_ID)}:${enc(CLIENT_SECRET)}`).toString('base64')}`;
  } else {
    body.client_id = CLIENT_ID;
    body.client_secret = CLIENT_SECRET;
  }
  const res = await request(null, discovery.token_endpoint, { method: 'POST', form: body, headers });
  return { status: res.status, json: JSON.parse(res.body) };
}

async function main() {
  console.log(`# selftest against ${ISSUER}`);

  // 1. Discovery ------------------------------------------------------------
  const discRes = await request(null, `${ISSUER}/.well-known/openid-configuration`);
  ok(discRes.status === 200, 'discovery document is served', discRes.status);
  const discovery = JSON.parse(discRes.body);
  ok(discovery.issuer === ISSUER, 'discovery issuer matches', discovery.issuer);
  ok(typeof discovery.jwks_uri === 'string', 'discovery has jwks_uri', discovery.jwks_uri);
  ok(typeof discovery.end_session_endpoint === 'string', 'discovery has end_session_endpoint', discovery.end_session_endpoint);
  ok(discovery.code_challenge_methods_supported?.includes('S256'), 'S256 PKCE supported', discovery.code_challenge_methods_supported);
  for (const s of ['openid', 'email', 'profile', 'groups']) {
    ok(discovery.scopes_supported?.includes(s), `scope ${s} supported`, discovery.scopes_supported);
  }
  const jwksRes = await request(null, discovery.jwks_uri);
  const jwks = JSON.parse(jwksRes.body);
  ok(jwksRes.status === 200 && jwks.keys?.length > 0, 'JWKS is served');
  ok(jwks.keys.every((k) => k.d === undefined && k.p === undefined), 'JWKS exposes public keys only');

  // 2. Authorization code + PKCE flow as admin --------------------------------
  const redirectUri = 'http://127.0.0.1:45678/auth/callback';
  const { verifier, challenge } = pkce();
  const jar = new Jar();
  const start = authUrl(discovery, { redirectUri, state: 'xyz', nonce: 'n1', challenge });

  const first = await request(jar, start);
  ok(first.status === 303 && /\/interaction\/[^/]+$/.test(new URL(first.location).pathname),
    'GET /auth redirects to /interaction/<uid>', `${first.status} ${first.location}`);

  const { callback, seen } = await runLogin(jar, start, redirectUri, 'admin');
  const login = seen.loginPage;
  ok(!!login, 'login page was shown');
  ok(/<input[^>]*name="login"/.test(login.html), 'login page has input[name=login]');
  ok(/<input[^>]*type="password"[^>]*name="password"/.test(login.html), 'login page has input[name=password]');
  ok(/<button type="submit" class="login login-submit">Sign-in<\/button>/.test(login.html), 'login page has button.login-submit "Sign-in"');
  ok(/^\/interaction\/[^/]+$/.test(new URL(login.action, ISSUER).pathname), 'login form posts to /interaction/<uid>', login.action);
  ok(seen.consentPage === null, 'consent is skipped for the first-party client', seen.consentPage?.html?.slice(0, 300));

  ok(callback.searchParams.get('state') === 'xyz', 'callback carries state=xyz', callback.href);
  ok(callback.searchParams.get('iss') === ISSUER, 'callback carries iss (RFC 9207)', callback.href);
  const code = callback.searchParams.get('code');
  ok(!!code, 'callback carries a code', callback.href);

  const tok = await tokenRequest(discovery, {
    grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier,
  });
  ok(tok.status === 200, 'code exchanged at token endpoint (client_secret_basic)', tok.json);
  ok(tok.json.token_type === 'Bearer' && !!tok.json.access_token && !!tok.json.id_token, 'token response has access_token and id_token', tok.json);

  const idt = await verifyJwt(tok.json.id_token, jwks);
  const p = idt.payload;
  ok(idt.valid, 'ID token signature verifies against jwks_uri (RS256)');
  ok(p.iss === ISSUER, 'ID token iss', p.iss);
  ok(p.aud === CLIENT_ID, 'ID token aud', p.aud);
  ok(p.sub === 'admin', 'ID token sub', p.sub);
  ok(p.nonce === 'n1', 'ID token nonce', p.nonce);
  ok(p.name === 'Ada Admin', 'ID token name', p.name);
  ok(p.email === 'admin@cartograph.test' && p.email_verified === true, 'ID token email', p);
  ok(p.preferred_username === 'admin', 'ID token preferred_username', p);
  ok(JSON.stringify(p.groups) === '["cartograph-admin"]', 'ID token groups', p.groups);
  ok(p.exp > Date.now() / 1000, 'ID token not expired', p.exp);
  console.log(`# admin ID token payload: ${JSON.stringify(p)}`);

  const ui = await request(null, discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${tok.json.access_token}` } });
  const uij = JSON.parse(ui.body);
  ok(ui.status === 200 && uij.sub === 'admin' && uij.name === 'Ada Admin'
    && JSON.stringify(uij.groups) === '["cartograph-admin"]', 'userinfo returns admin claims', uij);

  const replay = await tokenRequest(discovery, {
    grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier,
  });
  ok(replay.status === 400 && replay.json.error === 'invalid_grant', 'code cannot be redeemed twice (this also revokes its tokens)', replay.json);

  // 3. SSO: a second /auth with the same session needs no login --------------
  const pk2 = pkce();
  const sso = await runLogin(jar, authUrl(discovery, {
    redirectUri: 'http://localhost:50001/auth/callback', state: 's2', nonce: 'n2', challenge: pk2.challenge,
  }), 'http://localhost:50001/auth/callback', 'admin');
  ok(sso.seen.loginPage === null && sso.callback.searchParams.get('code'), 'existing session: code issued without login (localhost redirect)', sso.callback.href);

  // 4. RP-initiated logout ----------------------------------------------------
  const endUrl = new URL(discovery.end_session_endpoint);
  endUrl.searchParams.set('id_token_hint', tok.json.id_token);
  endUrl.searchParams.set('post_logout_redirect_uri', 'http://localhost:45678/');
  endUrl.searchParams.set('state', 'bye');
  const logoutPage = await request(jar, endUrl.href);
  ok(logoutPage.status === 200 && /<form id="op.logoutForm" method="post" action="[^"]*\/session\/end\/confirm">/.test(logoutPage.body),
    'end_session shows the logout confirmation form', logoutPage.body.slice(0, 500));
  ok(/<button[^>]*name="logout"[^>]*>Yes, sign me out<\/button>/.test(logoutPage.body), 'logout page has button[name=logout] "Yes, sign me out"');
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(logoutPage.body)?.[1];
  const confirm = await request(jar, new URL('/session/end/confirm', discovery.end_session_endpoint).href, {
    method: 'POST', form: { xsrf, logout: 'yes' },
  });
  ok(confirm.status === 303 && confirm.location === 'http://localhost:45678/?state=bye',
    'logout confirm redirects to post_logout_redirect_uri with state', `${confirm.status} ${confirm.location}`);

  const afterLogout = await runLogin(jar, authUrl(discovery, {
    redirectUri, state: 's3', nonce: 'n3', challenge: pkce().challenge,
  }), redirectUri, 'admin');
  ok(afterLogout.seen.loginPage !== null, 'after logout, /auth asks for login again');

  // 5. Shopper, client_secret_post, and a made-up login -----------------------
  for (const [loginName, expect] of [
    ['shopper', { name: 'Sam Shopper', email: 'shopper@cartograph.test', groups: [] }],
    ['carol', { name: 'carol', email: 'carol@cartograph.test', groups: [] }],
  ]) {
    const pk = pkce();
    const ruri = 'http://127.0.0.1:61234/auth/callback';
    const r = await runLogin(new Jar(), authUrl(discovery, {
      redirectUri: ruri, state: `st-${loginName}`, nonce: `nn-${loginName}`, challenge: pk.challenge,
    }), ruri, loginName);
    const bad = await tokenRequest(discovery, {
      grant_type: 'authorization_code', code: r.callback.searchParams.get('code'), redirect_uri: ruri,
      code_verifier: pkce().verifier,
    }, 'post');
    ok(bad.status === 400 && bad.json.error === 'invalid_grant', `${loginName}: wrong code_verifier is rejected`, bad.json);
    // Fresh flow for the real exchange, so the test does not depend on what a failed PKCE check does to the code.
    const pk3 = pkce();
    const r2 = await runLogin(new Jar(), authUrl(discovery, {
      redirectUri: ruri, state: `st-${loginName}`, nonce: `nn-${loginName}`, challenge: pk3.challenge,
    }), ruri, loginName);
    const t = await tokenRequest(discovery, {
      grant_type: 'authorization_code', code: r2.callback.searchParams.get('code'), redirect_uri: ruri,
      code_verifier: pk3.verifier,
    }, 'post');
    ok(t.status === 200, `${loginName}: code exchanged (client_secret_post)`, t.json);
    const { payload, valid } = await verifyJwt(t.json.id_token, jwks);
    ok(valid && payload.sub === loginName && payload.name === expect.name && payload.email === expect.email
      && JSON.stringify(payload.groups) === JSON.stringify(expect.groups) && payload.nonce === `nn-${loginName}`,
    `${loginName}: ID token claims`, payload);
  }

  // 6. prompt=consent still forces the (dev) consent page ---------------------
  {
    const pk = pkce();
    const r = await runLogin(new Jar(), authUrl(discovery, {
      redirectUri, state: 'pc', nonce: 'pc', challenge: pk.challenge, extra: { prompt: 'consent' },
    }), redirectUri, 'shopper');
    const page = r.seen.consentPage;
    ok(page !== null && /<button autofocus type="submit" class="login login-submit">Continue<\/button>/.test(page.html)
      && /^\/interaction\/[^/]+$/.test(new URL(page.action, ISSUER).pathname),
    'prompt=consent shows the consent page (button.login-submit "Continue") on /interaction/<uid>');
    ok(r.callback.searchParams.get('code') && r.callback.searchParams.get('state') === 'pc', 'after consent, code is issued', r.callback.href);
  }

  // 7. Cancel on the login page -----------------------------------------------
  {
    const cjar = new Jar();
    const r = await request(cjar, authUrl(discovery, { redirectUri, state: 'cx', nonce: 'cx', challenge: pkce().challenge }));
    const page = await request(cjar, r.location);
    const abort = /<a href="([^"]+\/abort)">\[ Cancel \]<\/a>/.exec(page.body)?.[1];
    ok(!!abort, 'login page has a "[ Cancel ]" link to /interaction/<uid>/abort');
    let res = await request(cjar, abort);
    if (res.location && !res.location.startsWith(redirectUri)) res = await request(cjar, res.location);
    const loc = res.location ? new URL(res.location) : null;
    ok(loc?.href.startsWith(redirectUri) && loc.searchParams.get('error') === 'access_denied' && loc.searchParams.get('state') === 'cx',
      'Cancel redirects to the callback with error=access_denied', res.location);
  }

  // 8. Negative cases ---------------------------------------------------------
  const noPkce = await request(new Jar(), authUrl(discovery, { redirectUri, state: 'np', nonce: 'np' }));
  const noPkceLoc = noPkce.location ? new URL(noPkce.location) : null;
  ok(noPkceLoc?.href.startsWith(redirectUri) && noPkceLoc.searchParams.get('error') === 'invalid_request',
    'authorization request without PKCE is rejected', `${noPkce.status} ${noPkce.location}`);

  for (const evil of ['http://evil.example/auth/callback', 'https://127.0.0.1:3000/auth/callback',
    'http://127.0.0.1:3000/other', 'http://127.0.0.1.evil.example:3000/auth/callback']) {
    const r = await request(new Jar(), authUrl(discovery, { redirectUri: evil, state: 'e', nonce: 'e', challenge: pkce().challenge }));
    ok(r.status === 400 && r.location === null && /redirect_uri did not match/.test(r.body), `redirect_uri ${evil} is rejected`, `${r.status} ${r.location}`);
  }

  const badLogout = await request(new Jar(), `${discovery.end_session_endpoint}?client_id=${CLIENT_ID}&post_logout_redirect_uri=${encodeURIComponent('http://evil.example/')}`);
  ok(badLogout.status === 400, 'non-loopback post_logout_redirect_uri is rejected', badLogout.status);

  const badSecret = await request(null, discovery.token_endpoint, {
    method: 'POST',
    form: { grant_type: 'authorization_code', code: 'x', redirect_uri: redirectUri, code_verifier: 'x' },
    headers: { authorization: `Basic ${Buffer.from(`${CLIENT_ID}:wrong`).toString('base64')}` },
  });
  ok(badSecret.status === 401 && JSON.parse(badSecret.body).error === 'invalid_client', 'wrong client secret is rejected', badSecret.body);

  console.log(`${passed} passed, 0 failed`);
}

main().catch((err) => {
  console.error(err.message || err);
  console.log(`${passed} passed, 1 failed`);
  process.exit(1);
});
