// A Logto-compatible OpenID provider for fiberlogto's integration suite.
//
// It is a test fixture, not Logto: one tenant, one Traditional web
// application, one machine-to-machine application, one API resource, one
// organization, one user, all in memory. It is built on
// oidc-provider, the engine Logto is built on, and configured the way
// Logto's packages/core/src/oidc/init.ts configures it, so that what an RP
// observes (redirects, cookies, token shapes, error bodies, rotation and
// replay, back-channel logout tokens) is what a real Logto answers (the
// project's shared/reference/logto-observed.md records a real Logto v1.37.0).
//
//   <endpoint>/oidc/...                 oidc-provider (issuer <endpoint>/oidc)
//   GET  /sign-in, POST /sign-in        a tiny HTML sign-in page (identifier, password, #submit)
//   GET  /consent                       first-party auto-consent (Logto core's koaAutoConsent)
//   PUT  /api/experience                Logto's Experience API, the calls Logto's
//   POST /api/experience/verification/password   sign-in page makes
//   POST /api/experience/identification
//   POST /api/experience/submit
//   POST /api/experience/verification/one-time-token/verify   a magic link's token
//   GET  /one-time-token, /switch-account   Logto's magic-link pages (invalid link, another account)
//   /api/applications, /api/users, /api/subject-tokens, /api/one-time-tokens
//                                       the Management API calls the suite makes
//                                       (management.js), with an M2M token for
//                                       MANAGEMENT_API_RESOURCE, scope `all`
//   POST /oidc/token                    also the token exchange grant (token-exchange.js)
//   GET  /__fixture/events              fixture only (not in Logto): what the token
//                                       endpoint did, for the suite's rotation checks,
//                                       and the back-channel logouts it sent
//
// Configuration: environment variables (see README.md in integration/). When
// it listens it prints one JSON line on stdout with its endpoint and seed.

import { createHash, generateKeyPairSync, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import http from 'node:http';

import Koa from 'koa';
import mount from 'koa-mount';
import Provider, { errors } from 'oidc-provider';

import * as refreshTokenGrant from './refresh-token.js';
import * as tokenExchangeGrant from './token-exchange.js';
import { logtoBackchannelLogout } from './backchannel-logout.js';
import { createStores, managementApi, oneTimeTokenError } from './management.js';

// ---------------------------------------------------------------- config

const env = (name, fallback) => {
  const v = process.env[name];
  return v === undefined || v.trim() === '' ? fallback : v.trim();
};
const seconds = (name, fallback) => {
  const raw = env(name, undefined);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    throw new Error(`${name}=${raw}: must be a positive whole number of seconds`);
  }
  return n;
};
const list = (name) => (env(name, '') || '').split(/[\s,]+/).filter(Boolean);
const flag = (name, fallback) => {
  const raw = env(name, undefined);
  if (raw === undefined) return fallback;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new Error(`${name}=${raw}: must be 1 or 0`);
};
const milliseconds = (name, fallback) => {
  const raw = env(name, undefined);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`${name}=${raw}: must be a whole number of milliseconds, 0 or more`);
  }
  return n;
};

// Logto ids are 12 (entities) or 21 (secrets, verification ids) lowercase
// alphanumeric characters.
const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
const logtoId = (length = 12) => Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join('');

const config = {
  host: env('PROVIDER_HOST', '127.0.0.1'),
  port: Number(env('PROVIDER_PORT', '0')),
  appId: env('APP_ID', 'fiberlogto-integration'),
  appSecret: env('APP_SECRET', undefined),
  // The machine-to-machine application (Logto: a MachineToMachine app with an
  // M2M role that has read:data of the API resource).
  m2mAppId: env('M2M_APP_ID', 'fiberlogto-integration-m2m'),
  m2mAppSecret: env('M2M_APP_SECRET', undefined),
  redirectUris: list('REDIRECT_URIS'),
  postLogoutRedirectUris: list('POST_LOGOUT_REDIRECT_URIS'),
  resource: env('RESOURCE', 'https://api.fiberlogto.test'),
  // Logto's Management API resource indicator (an OSS Logto's default
  // tenant: https://default.logto.app/api); the machine-to-machine app's
  // role gives it the scope `all`, as Logto's Management API access role.
  managementResource: env('MANAGEMENT_API_RESOURCE', 'https://default.logto.app/api'),
  organizationId: env('ORGANIZATION_ID', logtoId()),
  username: env('USER_USERNAME', 'integration_user'),
  password: env('USER_PASSWORD', undefined),
  // The API resource's "token expiration time" in Logto's console
  // (resources.access_token_ttl). Default as Logto: 3600.
  accessTokenTtl: seconds('ACCESS_TOKEN_TTL', 3600),
  // The application's refresh token TTL (Logto: customClientMetadata
  // refreshTokenTtl / refreshTokenTtlInDays). Default as Logto: 14 days.
  refreshTokenTtl: seconds('REFRESH_TOKEN_TTL', 14 * 24 * 3600),
  // How long a rotated refresh token still reads as unused (Logto: 3 s, see
  // the adapter below). 0 is stricter than Logto: any replay of a rotated
  // token revokes the grant at once.
  refreshTokenReuseIntervalMs: milliseconds('REFRESH_TOKEN_REUSE_INTERVAL_MS', 3000),
  // The application's back-channel logout URI and "Is session required"
  // (Logto's oidcClientMetadata backchannelLogoutUri and
  // backchannelLogoutSessionRequired; unset in Logto by default).
  backchannelLogoutUri: env('BACKCHANNEL_LOGOUT_URI', undefined),
  backchannelLogoutSessionRequired: flag('BACKCHANNEL_LOGOUT_SESSION_REQUIRED', false),
};
const generated = { appSecret: !config.appSecret, m2mAppSecret: !config.m2mAppSecret, password: !config.password };
config.appSecret ??= randomBytes(24).toString('base64url');
config.m2mAppSecret ??= randomBytes(24).toString('base64url');
config.password ??= randomBytes(12).toString('base64url');
if (config.m2mAppId === config.appId) {
  throw new Error(`M2M_APP_ID=${config.m2mAppId}: must differ from APP_ID`);
}
if (config.host !== '127.0.0.1' && config.host !== 'localhost' && config.host !== '::1') {
  throw new Error(`PROVIDER_HOST=${config.host}: the fixture only listens on loopback`);
}

// ---------------------------------------------------------------- seed

const now = Date.now();
const user = {
  id: logtoId(),
  username: config.username,
  password: config.password,
  name: 'Integration User',
  avatar: null,
  primaryEmail: `${config.username}@example.com`,
  primaryPhone: null,
  createdAt: now,
  updatedAt: now,
  roles: [{ name: 'integration-role', scopes: { [config.resource]: ['read:data'] } }],
};
const organization = {
  id: config.organizationId,
  name: 'Integration Org',
  description: 'fiberlogto integration suite organization',
  // member -> organization role "member", which carries read:org.
  members: new Map([[user.id, [{ name: 'member', scopes: ['read:org'] }]]]),
};
const organizationsResource = 'urn:logto:resource:organizations';
const users = new Map([[user.id, user]]);
// The machine-to-machine application's roles (Logto: roles of type
// MachineToMachine assigned to the app; applications_roles).
const applications = new Map([[config.m2mAppId, {
  roles: [
    { name: 'integration-m2m-role', scopes: { [config.resource]: ['read:data'] } },
    { name: 'Logto Management API access', scopes: { [config.managementResource]: ['all'] } },
  ],
}]]);
// The applications as the Management API shows and changes them. Token
// exchange is off until PATCH /api/applications/:id turns it on, as in
// Logto (customClientMetadata.allowTokenExchange).
const appSettings = new Map([
  [config.appId, {
    id: config.appId,
    name: 'fiberlogto integration (Traditional web)',
    type: 'Traditional',
    oidcClientMetadata: { redirectUris: config.redirectUris, postLogoutRedirectUris: config.postLogoutRedirectUris },
    customClientMetadata: { refreshTokenTtl: config.refreshTokenTtl, rotateRefreshToken: true, allowTokenExchange: false },
    createdAt: now,
  }],
  [config.m2mAppId, {
    id: config.m2mAppId,
    name: 'fiberlogto integration (Machine-to-machine)',
    type: 'MachineToMachine',
    oidcClientMetadata: { redirectUris: [], postLogoutRedirectUris: [] },
    customClientMetadata: { allowTokenExchange: false },
    createdAt: now,
  }],
]);
// What the Management API makes: subject tokens, personal access tokens,
// one-time tokens.
const stores = createStores();

const seed = {
  isMember: (orgId, userId) => orgId === organization.id && organization.members.has(userId),
  organizationScopes(orgId, userId) {
    if (!seed.isMember(orgId, userId)) return [];
    return [...new Set(organization.members.get(userId).flatMap((r) => r.scopes))];
  },
  // Logto's findResourceScopes: the scopes the user's roles give on a
  // resource (organization roles for urn:logto:resource:organizations);
  // without a user, the scopes the application's machine-to-machine roles
  // give (Logto: findApplicationScopesForResourceIndicator), which is what
  // a client_credentials grant may issue.
  resourceScopes(indicator, userId, orgId, appId) {
    if (indicator === organizationsResource) {
      const orgs = orgId ? [orgId] : [organization.id];
      return [...new Set(orgs.flatMap((id) => seed.organizationScopes(id, userId)))];
    }
    const u = users.get(userId);
    if (u) return [...new Set(u.roles.flatMap((r) => r.scopes[indicator] ?? []))];
    const app = userId === undefined ? applications.get(appId) : undefined;
    if (app) return [...new Set(app.roles.flatMap((r) => r.scopes[indicator] ?? []))];
    // The web app before sign-in: the resource's scopes.
    return indicator === config.resource ? ['read:data'] : [];
  },
};

// ---------------------------------------------------------------- claims

// Logto's scopes and the claims they release (@logto/core-kit userClaims).
const claims = {
  openid: ['sub'],
  profile: ['name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username',
    'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
    'username', 'created_at'],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  address: ['address'],
  custom_data: ['custom_data'],
  identities: ['identities', 'sso_identities'],
  roles: ['roles'],
  'urn:logto:scope:organizations': ['organizations', 'organization_data'],
  'urn:logto:scope:organization_roles': ['organization_roles'],
  'urn:logto:scope:sessions': [],
};

// What Logto's getUserClaimsData returns for our user, per scope. Timestamps
// are in milliseconds, picture is null without an avatar, organization_data
// is for userinfo only.
function userClaims(u, use, scope) {
  const scopes = new Set(String(scope).split(' '));
  const out = { sub: u.id };
  if (scopes.has('profile')) {
    Object.assign(out, {
      name: u.name, picture: u.avatar, updated_at: u.updatedAt, username: u.username, created_at: u.createdAt,
    });
  }
  if (scopes.has('email')) {
    Object.assign(out, { email: u.primaryEmail, email_verified: Boolean(u.primaryEmail) });
  }
  if (scopes.has('phone')) {
    Object.assign(out, { phone_number: u.primaryPhone, phone_number_verified: Boolean(u.primaryPhone) });
  }
  if (scopes.has('roles')) {
    out.roles = u.roles.map((r) => r.name);
  }
  const memberOf = seed.isMember(organization.id, u.id) ? [organization] : [];
  if (scopes.has('urn:logto:scope:organizations')) {
    out.organizations = memberOf.map((o) => o.id);
    if (use === 'userinfo') {
      out.organization_data = memberOf.map((o) => ({ id: o.id, name: o.name, description: o.description }));
    }
  }
  if (scopes.has('urn:logto:scope:organization_roles')) {
    out.organization_roles = memberOf.flatMap((o) => o.members.get(u.id).map((r) => `${o.id}:${r.name}`));
  }
  return out;
}

// ---------------------------------------------------------------- storage

// oidc-provider's storage, in memory, with Logto's one deviation from
// oidc-provider's semantics (packages/core/src/queries/oidc-model-instance.ts):
// a consumed (rotated) refresh token still reads as not consumed for 3
// seconds, so an RP whose two requests raced gets a token instead of a
// revoked grant (REFRESH_TOKEN_REUSE_INTERVAL_MS changes it for a test).
const { refreshTokenReuseIntervalMs } = config;
const store = new Map(); // `${model}:${id}` -> { payload, expiresAt, consumedAt }
const byUid = new Map(); // Session uid -> id
const byGrant = new Map(); // grantId -> Set of keys

function sweep() {
  const t = Date.now();
  for (const [key, row] of store) {
    if (row.expiresAt && row.expiresAt < t) store.delete(key);
  }
}
setInterval(sweep, 60_000).unref();

class Adapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const old = store.get(key);
    store.set(key, {
      payload,
      expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined,
      consumedAt: old?.consumedAt,
    });
    if (this.model === 'Session' && payload.uid) byUid.set(payload.uid, id);
    if (payload.grantId) {
      if (!byGrant.has(payload.grantId)) byGrant.set(payload.grantId, new Set());
      byGrant.get(payload.grantId).add(key);
    }
  }

  async find(id) {
    const row = store.get(this.key(id));
    if (!row) return undefined;
    if (row.expiresAt && row.expiresAt < Date.now()) {
      store.delete(this.key(id));
      return undefined;
    }
    let consumed = Boolean(row.consumedAt);
    if (consumed && this.model === 'RefreshToken') {
      consumed = refreshTokenReuseIntervalMs === 0 || row.consumedAt + refreshTokenReuseIntervalMs < Date.now();
    }
    return consumed ? { ...row.payload, consumed: true } : { ...row.payload };
  }

  async findByUid(uid) {
    const id = byUid.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode() {
    return undefined;
  }

  async consume(id) {
    const row = store.get(this.key(id));
    if (row) row.consumedAt = Date.now();
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of byGrant.get(grantId) ?? []) store.delete(key);
    byGrant.delete(grantId);
  }
}

// ---------------------------------------------------------------- keys

// One EC P-384 signing key, generated at startup (Logto's default), with
// kid = its RFC 7638 thumbprint.
function signingKey() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const jwk = privateKey.export({ format: 'jwk' });
  const thumbprint = createHash('sha256')
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
    .digest('base64url');
  return { ...jwk, kid: thumbprint, alg: 'ES384', use: 'sig' };
}

// ---------------------------------------------------------------- events

// What the token and revocation endpoints did, for the suite's rotation
// checks (fixture only; Logto keeps audit logs instead). Tokens appear as
// the first 16 hex digits of their SHA-256, never in clear.
const events = [];
const tokenHash = (v) => (typeof v === 'string' && v ? createHash('sha256').update(v).digest('hex').slice(0, 16) : undefined);
function record(type, ctx, extra = {}) {
  const p = ctx?.oidc?.params ?? {};
  events.push({
    at: Date.now(),
    type,
    grantType: p.grant_type,
    organizationId: p.organization_id,
    resource: p.resource,
    presentedCode: tokenHash(p.code),
    presentedRefreshToken: tokenHash(p.refresh_token),
    // token exchange
    subjectTokenType: p.subject_token_type,
    presentedSubjectToken: tokenHash(p.subject_token),
    actor: p.actor_token ? true : undefined,
    revokedToken: tokenHash(p.token), // revocation endpoint
    ...extra,
  });
  if (events.length > 1000) events.shift();
}

// ---------------------------------------------------------------- provider

function logtoErrorMessage(error, out) {
  switch (error) {
    case 'invalid_grant': return 'Grant request is invalid.';
    case 'invalid_request': return 'Request is invalid.';
    case 'invalid_token': return 'Invalid token provided.';
    case 'invalid_target': return 'Invalid resource indicator.';
    case 'invalid_scope': return 'Invalid scope: {{error_description}}.';
    case 'insufficient_scope': return 'Token missing scope `{{scope}}`.';
    case 'access_denied': return 'Access denied.';
    default: return `An OIDC error occurred: oidc.${out?.error ?? error}.`;
  }
}

// One EC P-384 signing key for the provider's lifetime: oidc-provider signs
// with it, the Management API checks its access tokens with it.
const key = signingKey();

function buildProvider(issuer) {
  const cookieConfig = { sameSite: 'lax', path: '/', signed: true, overwrite: true };

  const provider = new Provider(issuer, {
    adapter: Adapter,
    clients: [{
      client_id: config.appId,
      client_secret: config.appSecret,
      client_name: 'fiberlogto integration (Traditional web)',
      application_type: 'web',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES384',
      redirect_uris: config.redirectUris,
      post_logout_redirect_uris: config.postLogoutRedirectUris,
      // Logto's customClientMetadata.
      refreshTokenTtl: config.refreshTokenTtl,
      rotateRefreshToken: true,
      ...(config.backchannelLogoutUri ? {
        backchannel_logout_uri: config.backchannelLogoutUri,
        backchannel_logout_session_required: config.backchannelLogoutSessionRequired,
      } : {}),
    }, {
      // Logto's MachineToMachine application (getConstantClientMetadata in
      // packages/core/src/oidc/utils.ts): client_credentials only, no
      // front channel (response_types [] so that no redirect URI is
      // needed), a confidential client with client_secret_basic.
      client_id: config.m2mAppId,
      client_secret: config.m2mAppSecret,
      client_name: 'fiberlogto integration (Machine-to-machine)',
      application_type: 'web',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      post_logout_redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES384',
    }],
    clientDefaults: { id_token_signed_response_alg: 'ES384' },
    extraClientMetadata: { properties: ['refreshTokenTtl', 'rotateRefreshToken'] },
    // Logto renders every error as the JSON body (koaOidcErrorHandler adds code/message).
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      long: cookieConfig,
      short: cookieConfig,
    },
    jwks: { keys: [key] },
    enabledJWA: {
      idTokenSigningAlgValues: ['ES384'],
    },
    conformIdTokenClaims: false,
    features: {
      userinfo: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        // Logto's static/html/logout.html: the form submits itself on load,
        // and logout=yes sits outside it, attached with form=.
        logoutSource(ctx, form) {
          ctx.body = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Signing out</title></head>
<body onload="document.getElementById('op.logoutForm').submit();">
  ${form}
  <input type="hidden" form="op.logoutForm" value="yes" name="logout" />
</body></html>
`;
        },
        postLogoutSuccessSource(ctx) {
          ctx.body = '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signed out</title></head><body><p>You have successfully signed out</p></body></html>\n';
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo(ctx, indicator) {
          if (indicator !== config.resource && indicator !== organizationsResource && indicator !== config.managementResource) {
            throw new errors.InvalidTarget();
          }
          const {
            client, session, entities, params,
          } = ctx.oidc;
          const userId = session?.accountId ?? entities.Account?.accountId;
          const orgId = typeof params?.organization_id === 'string' ? params.organization_id : undefined;
          return {
            scope: seed.resourceScopes(indicator, userId, orgId, client?.clientId).join(' '),
            audience: indicator,
            accessTokenTTL: indicator === config.resource ? config.accessTokenTtl : 3600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES384' } },
          };
        },
      },
    },
    // Logto: a refresh token for offline_access (oidc-provider itself drops
    // offline_access unless prompt=consent).
    issueRefreshToken(ctx, client, code) {
      return client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
    },
    interactions: {
      url(ctx, interaction) {
        const appId = interaction.params.client_id;
        // Logto's UI cookie: raw JSON, readable by scripts.
        ctx.cookies.set('_logto', JSON.stringify({ appId }), {
          sameSite: 'lax', overwrite: true, httpOnly: false, signed: false, path: '/',
        });
        const query = `app_id=${encodeURIComponent(appId)}`;
        // Logto's buildLoginPromptUrl: a magic link's one_time_token, and
        // login_hint and identifier, go on to the sign-in page.
        const login = new URLSearchParams({ app_id: String(appId) });
        for (const name of ['one_time_token', 'login_hint', 'identifier']) {
          const v = interaction.params[name];
          if (typeof v === 'string' && v !== '') login.append(name, v);
        }
        switch (interaction.prompt.name) {
          case 'login': return `/sign-in?${login}`;
          case 'consent': return `/consent?${query}`;
          default: throw new Error(`Prompt not supported: ${interaction.prompt.name}`);
        }
      },
    },
    extraParams: ['organization_id', 'first_screen', 'interaction_mode', 'direct_sign_in', 'identifier', 'login_hint', 'one_time_token'],
    // Logto: organization_id next to resource adds an organization_id claim
    // to the resource token; a token exchanged with an actor token carries
    // act (the grant leaves it in the token's extra, as Logto's does, and
    // what this returns becomes the extra claims).
    extraTokenClaims(ctx, token) {
      const out = {};
      if (token.extra?.act) out.act = token.extra.act;
      const orgId = ctx?.oidc?.params?.organization_id;
      if (orgId && ctx.oidc.params.resource && token.kind === 'AccessToken') {
        out.organization_id = String(orgId);
      }
      return Object.keys(out).length > 0 ? out : undefined;
    },
    claims,
    async findAccount(ctx, sub) {
      const u = users.get(sub);
      if (!u) return undefined;
      return {
        accountId: sub,
        claims: async (use, scope) => userClaims(u, use, scope),
      };
    },
    ttl: {
      IdToken: 3600,
      AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL ?? 3600,
      // Logto leaves it to oidc-provider's default, which is this: the
      // resource's access token TTL (set here only to keep the default's
      // "you SHOULD change it" notice out of the output).
      ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL || 10 * 60,
      RefreshToken: (ctx, token, client) => client.metadata().refreshTokenTtl ?? 14 * 24 * 3600,
      Interaction: 3600,
      Session: 1_209_600,
      Grant: 180 * 24 * 3600,
      AuthorizationCode: 600,
    },
    // Logto's rule (packages/core/src/oidc/defaults.ts): rotate a confidential
    // client's refresh token once 70 % of its lifetime has passed.
    rotateRefreshToken(ctx) {
      const { RefreshToken: refreshToken, Client: client } = ctx.oidc.entities;
      if (!refreshToken || !client || client.metadata().rotateRefreshToken === false) return false;
      if (refreshToken.totalLifetime() >= 365.25 * 24 * 60 * 60) return false;
      if (client.clientAuthMethod === 'none') return true;
      return refreshToken.ttlPercentagePassed() >= 70;
    },
    pkce: {
      methods: ['S256'],
      required: (ctx, client) => client.clientAuthMethod !== 'client_secret_basic',
    },
  });

  // Logto's logout tokens carry no exp; oidc-provider 8 gives them one.
  provider.Client.prototype.backchannelLogout = logtoBackchannelLogout(provider, (event) => {
    events.push({ at: Date.now(), ...event });
    if (events.length > 1000) events.shift();
  });

  provider.registerGrantType(
    'refresh_token',
    refreshTokenGrant.buildHandler(seed),
    [...refreshTokenGrant.parameters, 'resource'],
    ['resource'],
  );

  // Token exchange: registered for every client, allowed for those whose
  // customClientMetadata.allowTokenExchange is on (Logto adds the grant type
  // to such an app's grant_types; oidc-provider then refuses the others with
  // 400 invalid_request "requested grant type is not allowed for this
  // client", as Logto answers).
  provider.registerGrantType(
    tokenExchangeGrant.grantType,
    tokenExchangeGrant.buildHandler(seed, stores),
    [...tokenExchangeGrant.parameters, 'resource'],
    ['resource'],
  );
  const { grantTypeAllowed } = provider.Client.prototype;
  provider.Client.prototype.grantTypeAllowed = function allowed(type) {
    if (type === tokenExchangeGrant.grantType) {
      return appSettings.get(this.clientId)?.customClientMetadata.allowTokenExchange === true;
    }
    return grantTypeAllowed.call(this, type);
  };

  provider.on('grant.success', (ctx) => {
    const body = ctx.body ?? {};
    record('grant.success', ctx, {
      issuedRefreshToken: tokenHash(body.refresh_token),
      rotated: Boolean(ctx.oidc.entities.RotatedRefreshToken),
      scope: body.scope,
    });
  });
  provider.on('grant.error', (ctx, err) => {
    record('grant.error', ctx, { error: err.error, errorDescription: err.error_description });
  });
  // A grant revoked: by the revocation endpoint (a refresh token revokes
  // its grant), by a replayed refresh token, by a reused code.
  provider.on('grant.revoked', (ctx, grantId) => {
    record('grant.revoked', ctx, { route: ctx.oidc.route, grant: tokenHash(grantId) });
  });
  provider.on('end_session.success', (ctx) => {
    record('end_session.success', ctx);
  });
  provider.on('server_error', (ctx, err) => {
    process.stderr.write(`provider: server_error: ${err.stack ?? err}\n`);
  });

  return provider;
}

// ---------------------------------------------------------------- HTTP helpers

async function readBody(ctx, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += chunk.length;
    if (size > limit) ctx.throw(413, 'request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJSON(ctx) {
  const raw = await readBody(ctx);
  if (!raw) return {};
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function json(ctx, status, body) {
  ctx.status = status;
  if (body === undefined) {
    ctx.body = null;
    ctx.status = status;
    return;
  }
  ctx.type = 'json';
  ctx.body = body;
}

const escapeHTML = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const safeEqual = (a, b) => {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
};

// ---------------------------------------------------------------- Experience API

// Logto's error bodies for the calls the suite makes.
const experienceErrors = {
  sessionNotFound: [400, {
    code: 'session.not_found', message: 'Session not found.', error: 'invalid_request', error_description: 'interaction session not found',
  }],
  invalidCredentials: [422, { code: 'session.invalid_credentials', message: 'Account or password is incorrect.' }],
  interactionNotFound: [404, { code: 'session.interaction_not_found', message: 'Interaction session not found.' }],
  identifierNotFound: [404, { code: 'session.identifier_not_found', message: 'Identifier not found. Please go back and sign in again.' }],
  verificationNotFound: [404, { code: 'session.verification_session_not_found', message: 'The verification session was not found.' }],
  invalidInput: [400, { code: 'guard.invalid_input', message: 'The request input is invalid.' }],
  userNotExist: [404, { code: 'user.user_not_exist', message: 'User with {{ identifier }} does not exist.' }],
  emailNotExist: [400, { code: 'user.email_not_exist', message: 'The email address has not been registered yet.' }],
};
const fail = (ctx, [status, body]) => json(ctx, status, body);

// Per interaction uid: { event, verifications: Map(verificationId -> userId), userId }.
const experiences = new Map();

async function interactionOf(provider, ctx) {
  try {
    return await provider.interactionDetails(ctx.req, ctx.res);
  } catch {
    return undefined;
  }
}

function experienceOf(uid) {
  if (!experiences.has(uid)) experiences.set(uid, { event: undefined, verifications: new Map(), userId: undefined });
  return experiences.get(uid);
}

function findUser(type, value) {
  for (const u of users.values()) {
    if (type === 'username' && u.username === value) return u;
    if (type === 'email' && u.primaryEmail && u.primaryEmail.toLowerCase() === String(value).toLowerCase()) return u;
  }
  return undefined;
}

function verifyPassword(type, value, password) {
  const u = findUser(type, value);
  // Compare even for an unknown user, as a real server would hash anyway.
  // A user made without a password (POST /api/users) has none to match.
  const ok = safeEqual(u?.password ?? randomBytes(16).toString('hex'), password ?? '');
  return u && ok ? u : undefined;
}

async function finishLogin(provider, ctx, userId) {
  const u = users.get(userId);
  u.updatedAt = Date.now(); // Logto updates the user at every sign-in (last_sign_in_at, updated_at)
  return provider.interactionResult(ctx.req, ctx.res, { login: { accountId: userId } }, { mergeWithLastSubmission: false });
}

function experienceRoutes(provider) {
  return {
    'PUT /api/experience': async (ctx, interaction) => {
      const body = await readJSON(ctx);
      if (!body || body.interactionEvent !== 'SignIn') return fail(ctx, experienceErrors.invalidInput);
      const exp = experienceOf(interaction.uid);
      exp.event = 'SignIn';
      exp.userId = undefined;
      return json(ctx, 204);
    },
    'POST /api/experience/verification/password': async (ctx, interaction) => {
      const body = await readJSON(ctx);
      const id = body?.identifier;
      if (!id || typeof id.type !== 'string' || typeof id.value !== 'string' || typeof body.password !== 'string') {
        return fail(ctx, experienceErrors.invalidInput);
      }
      const u = verifyPassword(id.type, id.value, body.password);
      if (!u) return fail(ctx, experienceErrors.invalidCredentials);
      const verificationId = logtoId(21);
      experienceOf(interaction.uid).verifications.set(verificationId, u.id);
      return json(ctx, 200, { verificationId });
    },
    // A magic link (Logto's /one-time-token page calls it): the token
    // must be for this email, unexpired and unused; it is used up, and the
    // user with that primary email is verified (none: identification says
    // so, where Logto would register one).
    'POST /api/experience/verification/one-time-token/verify': async (ctx, interaction) => {
      const body = await readJSON(ctx);
      const id = body?.identifier;
      if (!id || id.type !== 'email' || typeof id.value !== 'string' || !id.value.includes('@')
        || typeof body.token !== 'string' || body.token === '') {
        return fail(ctx, experienceErrors.invalidInput);
      }
      const refused = oneTimeTokenError(stores, body.token, id.value);
      if (refused) return json(ctx, ...refused);
      stores.oneTimeTokens.get(body.token).consumedAt = Date.now();
      const verificationId = logtoId(21);
      experienceOf(interaction.uid).verifications.set(verificationId, findUser('email', id.value)?.id ?? null);
      return json(ctx, 200, { verificationId });
    },
    'POST /api/experience/identification': async (ctx, interaction) => {
      const body = await readJSON(ctx);
      if (!body || typeof body.verificationId !== 'string') return fail(ctx, experienceErrors.invalidInput);
      const exp = experienceOf(interaction.uid);
      if (!exp.event) return fail(ctx, experienceErrors.interactionNotFound);
      if (!exp.verifications.has(body.verificationId)) return fail(ctx, experienceErrors.verificationNotFound);
      const userId = exp.verifications.get(body.verificationId);
      if (!userId) return fail(ctx, experienceErrors.userNotExist);
      exp.userId = userId;
      return json(ctx, 204);
    },
    'POST /api/experience/submit': async (ctx, interaction) => {
      const exp = experienceOf(interaction.uid);
      if (!exp.event) return fail(ctx, experienceErrors.interactionNotFound);
      if (!exp.userId) return fail(ctx, experienceErrors.identifierNotFound);
      const redirectTo = await finishLogin(provider, ctx, exp.userId);
      experiences.delete(interaction.uid);
      return json(ctx, 200, { redirectTo });
    },
  };
}

// ---------------------------------------------------------------- pages

function signInPage(error) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title>
<style>body{font-family:sans-serif;max-width:22rem;margin:4rem auto}label,input,button{display:block;width:100%;margin:.4rem 0}.error{color:#b00}</style>
</head><body>
<h1>Sign in</h1>
${error ? `<p class="error" role="alert">${escapeHTML(error)}</p>` : ''}
<form method="post" action="/sign-in">
<label for="identifier">Username</label>
<input id="identifier" name="identifier" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="submit" type="submit">Sign in</button>
</form>
</body></html>
`;
}

// Logto's pages for a magic link that cannot sign in (its sign-in app
// renders them; always 200).
function messagePage(title, message) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHTML(title)}</title></head>
<body><h1>${escapeHTML(title)}</h1>${message ? `<p role="alert">${escapeHTML(message)}</p>` : ''}</body></html>
`;
}

function html(ctx, status, body) {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = body;
}

// ---------------------------------------------------------------- app

function buildApp(provider, issuer) {
  const app = new Koa();
  const experience = experienceRoutes(provider);
  const management = managementApi({
    issuer,
    resource: config.managementResource,
    signingKey: key,
    users,
    applications: appSettings,
    stores,
    newUserId: () => logtoId(),
    userJSON: (u) => ({
      id: u.id,
      username: u.username,
      primaryEmail: u.primaryEmail,
      primaryPhone: u.primaryPhone,
      name: u.name,
      avatar: u.avatar,
      customData: {},
      identities: {},
      lastSignInAt: null,
      createdAt: u.createdAt,
      updatedAt: u.updatedAt,
      profile: {},
      applicationId: null,
      isSuspended: false,
      hasPassword: Boolean(u.password),
    }),
  });

  // Logto's koaOidcErrorHandler: OIDC errors get Logto's code and message
  // in front of the RFC fields.
  app.use(async (ctx, next) => {
    await next();
    if (ctx.path.startsWith('/oidc/') && ctx.status >= 400 && ctx.body && typeof ctx.body === 'object'
      && !Buffer.isBuffer(ctx.body) && typeof ctx.body.error === 'string' && !ctx.body.code) {
      const out = ctx.body;
      ctx.body = {
        code: `oidc.${out.error}`,
        message: logtoErrorMessage(out.error, out),
        ...(out.error === 'invalid_grant' ? { error_uri: 'https://openid.sh/debug/invalid_grant' } : {}),
        ...out,
      };
    }
  });

  // The provider under /oidc (Logto mounts it the same way). Its routes call
  // next() when done, so nothing after it may run for /oidc requests.
  const oidc = mount('/oidc', provider.app);
  app.use((ctx, next) => (ctx.path === '/oidc' || ctx.path.startsWith('/oidc/')
    ? oidc(ctx, async () => {})
    : next()));

  app.use(async (ctx) => {
    const route = `${ctx.method} ${ctx.path}`;

    if (route === 'GET /__fixture/events') {
      ctx.set('Cache-Control', 'no-store');
      return json(ctx, 200, events);
    }

    if (route === 'GET /unknown-session') {
      return html(ctx, 200, '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Session not found</title></head><body><p>The sign-in session was not found. Go back to the application and sign in again.</p></body></html>\n');
    }

    if (ctx.path.startsWith('/api/') && !ctx.path.startsWith('/api/experience')
      && await management(ctx, readJSON, json)) {
      return undefined;
    }

    // Logto's magic-link page: with errorMessage (the consent guard's), the
    // "Invalid link" page; Logto's sign-in app does the sign-in itself
    // (the Experience API's one-time token verification) on this page.
    if (route === 'GET /one-time-token') {
      const message = ctx.query.errorMessage;
      if (message) return html(ctx, 200, messagePage('Invalid link', String(message)));
      return html(ctx, 200, messagePage('Signing in', ''));
    }

    // Logto's page when the browser is signed in as someone else than a
    // magic link's email: continue as that email.
    if (route === 'GET /switch-account') {
      const hint = String(ctx.query.login_hint ?? '');
      const next = `/one-time-token?${new URLSearchParams({ login_hint: hint, one_time_token: String(ctx.query.one_time_token ?? '') })}`;
      return html(ctx, 200, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Switch account</title></head>
<body><h1>Switch account</h1><p>You are signed in with another account.</p>
<p><a id="continue" href="${escapeHTML(next)}">Continue as ${escapeHTML(hint)}</a></p></body></html>
`);
    }

    if (experience[route]) {
      const interaction = await interactionOf(provider, ctx);
      if (!interaction) return fail(ctx, experienceErrors.sessionNotFound);
      ctx.set('Cache-Control', 'no-store');
      return experience[route](ctx, interaction);
    }

    if (route === 'GET /sign-in' || route === 'POST /sign-in') {
      const interaction = await interactionOf(provider, ctx);
      if (!interaction) {
        ctx.status = 302;
        return ctx.redirect('/unknown-session');
      }
      if (ctx.method === 'GET') return html(ctx, 200, signInPage());
      // The form runs the Experience API's steps server-side.
      const form = new URLSearchParams(await readBody(ctx));
      const identifier = form.get('identifier') ?? '';
      const u = verifyPassword(identifier.includes('@') ? 'email' : 'username', identifier, form.get('password') ?? '');
      if (!u) return html(ctx, 422, signInPage('Account or password is incorrect.'));
      const redirectTo = await finishLogin(provider, ctx, u.id);
      ctx.status = 303;
      return ctx.redirect(redirectTo);
    }

    if (route === 'GET /consent') {
      // Logto core's koaAutoConsent: a first-party app is consented to
      // without a screen; the grant gets the missing OIDC scopes and the
      // resource scopes the user's roles give, then authorization resumes.
      const interaction = await interactionOf(provider, ctx);
      if (!interaction?.session) return fail(ctx, experienceErrors.sessionNotFound);
      const { prompt, params, session, grantId } = interaction;
      // Logto's consent guard for a magic link: the signed-in user must be
      // the link's email, and its token valid (or the one just used).
      if (params.one_time_token && params.login_hint) {
        const u = users.get(session.accountId);
        if (!u?.primaryEmail) return fail(ctx, experienceErrors.emailNotExist);
        if (u.primaryEmail.toLowerCase() !== String(params.login_hint).toLowerCase()) {
          ctx.status = 302;
          return ctx.redirect(`/switch-account?${new URLSearchParams({
            login_hint: String(params.login_hint), one_time_token: String(params.one_time_token),
          })}`);
        }
        const refused = oneTimeTokenError(stores, String(params.one_time_token), String(params.login_hint));
        if (!refused) {
          stores.oneTimeTokens.get(String(params.one_time_token)).consumedAt = Date.now();
        } else if (refused[1].code !== 'one_time_token.token_consumed') {
          ctx.status = 302;
          return ctx.redirect(`/one-time-token?errorMessage=${encodeURIComponent(refused[1].message)}`);
        }
      }
      const grant = (grantId && await provider.Grant.find(grantId))
        || new provider.Grant({ accountId: session.accountId, clientId: String(params.client_id) });
      const details = prompt.details ?? {};
      if (details.missingOIDCScope?.length) grant.addOIDCScope(details.missingOIDCScope.join(' '));
      for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      const finalGrantId = await grant.save();
      const redirectTo = await provider.interactionResult(ctx.req, ctx.res,
        { ...interaction.result, consent: { grantId: finalGrantId } }, { mergeWithLastSubmission: true });
      ctx.status = 302;
      return ctx.redirect(redirectTo);
    }

    return json(ctx, 404, { code: 'guard.not_found', message: 'Not found.' });
  });

  return app;
}

// ---------------------------------------------------------------- main

const server = http.createServer();
server.requestTimeout = 30_000;
server.headersTimeout = 10_000;

server.listen(config.port, config.host, () => {
  const { port } = server.address();
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const endpoint = `http://${host}:${port}`;
  const provider = buildProvider(`${endpoint}/oidc`);
  const app = buildApp(provider, `${endpoint}/oidc`);
  server.on('request', app.callback());

  const ready = {
    ready: true,
    endpoint,
    issuer: `${endpoint}/oidc`,
    appId: config.appId,
    m2mAppId: config.m2mAppId,
    resource: config.resource,
    managementResource: config.managementResource,
    organizationId: config.organizationId,
    username: config.username,
    userId: user.id,
    accessTokenTtl: config.accessTokenTtl,
    refreshTokenTtl: config.refreshTokenTtl,
    refreshTokenReuseIntervalMs: config.refreshTokenReuseIntervalMs,
    backchannelLogoutUri: config.backchannelLogoutUri,
    backchannelLogoutSessionRequired: config.backchannelLogoutUri ? config.backchannelLogoutSessionRequired : undefined,
    redirectUris: config.redirectUris,
    postLogoutRedirectUris: config.postLogoutRedirectUris,
    oidcProvider: Provider.version ?? undefined,
  };
  // Only what the caller did not choose itself is printed.
  if (generated.appSecret) ready.appSecret = config.appSecret;
  if (generated.m2mAppSecret) ready.m2mAppSecret = config.m2mAppSecret;
  if (generated.password) ready.password = config.password;
  process.stdout.write(`${JSON.stringify(ready)}\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// Started by the suite with a pipe on stdin: when the suite goes away, so do we.
if (env('EXIT_ON_STDIN_CLOSE', '') === '1') {
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}
