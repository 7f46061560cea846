// The few Management API calls of Logto's that the suite makes (Logto's
// packages/core/src/routes, answers as docs/logto-observed.md section 18
// records them), behind Logto's authentication: a Bearer JWT access token
// for the Management API resource (MANAGEMENT_API_RESOURCE, Logto's
// https://default.logto.app/api) with the scope `all`, which the
// machine-to-machine application gets with client credentials (its role
// gives it, as Logto's "Logto Management API access" role does).
//
//   GET   /api/applications/:id                                the app, with customClientMetadata
//   PATCH /api/applications/:id  {"customClientMetadata":{"allowTokenExchange":true}}
//   POST  /api/users  {"username","name","primaryEmail","password"}   a user (no roles)
//   GET   /api/users/:id, DELETE /api/users/:id
//   POST  /api/subject-tokens  {"userId"}                       {"subjectToken":"sub_…","expiresIn":600}
//   POST  /api/users/:id/personal-access-tokens  {"name","expiresAt"}   {"userId","name","value":"pat_…",…}
//   GET   /api/users/:id/personal-access-tokens
//   DELETE /api/users/:id/personal-access-tokens/:name
//   POST  /api/one-time-tokens  {"email","expiresIn"}           {"id","email","token","status":"active","expiresAt",…}
//
// The token exchange grant (token-exchange.js) and the magic-link sign-in
// (server.js) read what these make.

import { createPublicKey, randomInt, verify } from 'node:crypto';

const lowerAlnum = 'abcdefghijklmnopqrstuvwxyz0123456789';
const alnum = `${lowerAlnum}ABCDEFGHIJKLMNOPQRSTUVWXYZ`;
const randomString = (length, chars) => Array.from({ length }, () => chars[randomInt(chars.length)]).join('');

// Logto's defaults: a subject token lives 600 s, a one-time token 600 s.
const subjectTokenTtlSeconds = 600;
const oneTimeTokenTtlSeconds = 600;

/** The stores the Management API fills and the token endpoint reads. */
export function createStores() {
  return {
    subjectTokens: new Map(), // value -> { id, userId, expiresAt, consumedAt }
    personalAccessTokens: new Map(), // value -> { userId, name, createdAt, expiresAt }
    oneTimeTokens: new Map(), // token -> { id, email, expiresAt, consumedAt, context, createdAt }
  };
}

// Logto's RequestErrors for what the suite can run into.
const errorBodies = {
  headerMissing: [401, { code: 'auth.authorization_header_missing', message: 'Authorization header is missing.' }],
  typeNotSupported: [401, { code: 'auth.authorization_token_type_not_supported', message: 'Authorization type is not supported.' }],
  unauthorized: [401, { code: 'auth.unauthorized', message: 'Unauthorized. Please check credentials and its scope.' }],
  forbidden: [403, { code: 'auth.forbidden', message: 'Forbidden. Please check your user roles and permissions.' }],
  invalidInput: [400, { code: 'guard.invalid_input', message: 'The request input is invalid.' }],
  notFound: [404, { code: 'guard.not_found', message: 'Not found.' }],
};
const entityNotFound = (name, id) => [404, {
  code: 'entity.not_exists_with_id', message: `The ${name} with ID \`${id}\` does not exist.`,
}];

/** oneTimeTokenState is what a one-time token is worth now: Logto's checkOneTimeToken. */
export function oneTimeTokenError(stores, token, email) {
  const ott = stores.oneTimeTokens.get(token);
  if (!ott) return [404, { code: 'one_time_token.token_not_found', message: `Token ${token} not found.` }];
  if (ott.email.toLowerCase() !== String(email).toLowerCase()) {
    return [400, { code: 'one_time_token.email_mismatch', message: 'Email mismatch with given token.' }];
  }
  if (ott.expiresAt <= Date.now()) return [400, { code: 'one_time_token.token_expired', message: 'The token is expired.' }];
  if (ott.consumedAt) return [400, { code: 'one_time_token.token_consumed', message: 'The token has been consumed.' }];
  return undefined;
}

/**
 * @param {object} o
 * @param {string} o.issuer - the provider's issuer
 * @param {string} o.resource - the Management API resource indicator
 * @param {object} o.signingKey - the provider's signing JWK (public part used)
 * @param {Map} o.users - the provider's users, by id
 * @param {Map} o.applications - by id: { id, name, type, customClientMetadata, oidcClientMetadata }
 * @param {object} o.stores - createStores()
 * @param {function} o.newUserId - Logto's 12-character ids
 * @param {function} o.userJSON - a user as the Management API shows it
 * @returns {function} an async (ctx, route, json) => boolean that answers the
 *   Management API's routes and returns false for any other
 */
export function managementApi({
  issuer, resource, signingKey, users, applications, stores, newUserId, userJSON,
}) {
  const publicKey = createPublicKey({
    key: {
      kty: signingKey.kty, crv: signingKey.crv, x: signingKey.x, y: signingKey.y,
    },
    format: 'jwk',
  });

  // Logto's koaAuth for the Management API: a JWT access token of this
  // issuer for the Management API resource, with the scope `all`.
  function authenticate(ctx) {
    const header = ctx.get('authorization');
    if (!header) return errorBodies.headerMissing;
    const [scheme, token, extra] = header.split(' ');
    if (!/^bearer$/i.test(scheme) || !token || extra !== undefined) return errorBodies.typeNotSupported;
    const parts = token.split('.');
    if (parts.length !== 3) return errorBodies.unauthorized;
    let head;
    let claims;
    try {
      head = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch {
      return errorBodies.unauthorized;
    }
    if (head.alg !== 'ES384' || head.kid !== signingKey.kid) return errorBodies.unauthorized;
    const ok = verify('sha384', Buffer.from(`${parts[0]}.${parts[1]}`), { key: publicKey, dsaEncoding: 'ieee-p1363' },
      Buffer.from(parts[2], 'base64url'));
    const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!ok || claims.iss !== issuer || !audience.includes(resource)
      || typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) {
      return errorBodies.unauthorized;
    }
    if (!String(claims.scope ?? '').split(' ').includes('all')) return errorBodies.forbidden;
    return undefined;
  }

  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const applicationJSON = (app) => ({
    tenantId: 'default',
    id: app.id,
    name: app.name,
    description: null,
    type: app.type,
    oidcClientMetadata: app.oidcClientMetadata,
    customClientMetadata: app.customClientMetadata,
    isThirdParty: false,
    createdAt: app.createdAt,
  });
  const patJSON = (pat) => ({
    tenantId: 'default', userId: pat.userId, name: pat.name, value: pat.value, createdAt: pat.createdAt, expiresAt: pat.expiresAt,
  });

  const routes = [
    ['GET', /^\/api\/applications\/([^/]+)$/, async (ctx, [id]) => {
      const app = applications.get(id);
      return app ? [200, applicationJSON(app)] : entityNotFound('application', id);
    }],
    ['PATCH', /^\/api\/applications\/([^/]+)$/, async (ctx, [id], body) => {
      const app = applications.get(id);
      if (!app) return entityNotFound('application', id);
      if (!isObject(body)) return errorBodies.invalidInput;
      if (body.customClientMetadata !== undefined) {
        const meta = body.customClientMetadata;
        if (!isObject(meta) || (meta.allowTokenExchange !== undefined && typeof meta.allowTokenExchange !== 'boolean')) {
          return errorBodies.invalidInput;
        }
        app.customClientMetadata = { ...app.customClientMetadata, ...meta };
      }
      return [200, applicationJSON(app)];
    }],
    ['POST', /^\/api\/users$/, async (ctx, _, body) => {
      if (!isObject(body)) return errorBodies.invalidInput;
      const {
        username, name, primaryEmail, password,
      } = body;
      if ((username !== undefined && !/^[A-Z_a-z]\w*$/.test(String(username)))
        || (primaryEmail !== undefined && !/^\S+@\S+\.\S+$/.test(String(primaryEmail)))) {
        return errorBodies.invalidInput;
      }
      for (const u of users.values()) {
        if (username !== undefined && u.username === username) {
          return [422, { code: 'user.username_already_in_use', message: 'This username is already in use.' }];
        }
        if (primaryEmail !== undefined && u.primaryEmail?.toLowerCase() === String(primaryEmail).toLowerCase()) {
          return [422, { code: 'user.email_already_in_use', message: 'This email is associated with an existing account.' }];
        }
      }
      const now = Date.now();
      const u = {
        id: newUserId(),
        username: username ?? null,
        password: typeof password === 'string' ? password : undefined,
        name: name ?? null,
        avatar: null,
        primaryEmail: primaryEmail ?? null,
        primaryPhone: null,
        createdAt: now,
        updatedAt: now,
        roles: [], // Logto gives a new user the tenant's default roles; the fixture has none
      };
      users.set(u.id, u);
      return [200, userJSON(u)];
    }],
    ['GET', /^\/api\/users\/([^/]+)$/, async (ctx, [id]) => {
      const u = users.get(id);
      return u ? [200, userJSON(u)] : entityNotFound('user', id);
    }],
    ['DELETE', /^\/api\/users\/([^/]+)$/, async (ctx, [id]) => {
      if (!users.delete(id)) return entityNotFound('user', id);
      for (const [value, pat] of stores.personalAccessTokens) {
        if (pat.userId === id) stores.personalAccessTokens.delete(value);
      }
      return [204];
    }],
    ['POST', /^\/api\/subject-tokens$/, async (ctx, _, body) => {
      if (!isObject(body) || typeof body.userId !== 'string') return errorBodies.invalidInput;
      if (!users.has(body.userId)) return entityNotFound('user', body.userId);
      const subjectToken = `sub_${randomString(21, lowerAlnum)}`;
      stores.subjectTokens.set(subjectToken, {
        id: randomString(21, lowerAlnum), userId: body.userId, expiresAt: Date.now() + subjectTokenTtlSeconds * 1000,
      });
      return [201, { subjectToken, expiresIn: subjectTokenTtlSeconds }];
    }],
    ['POST', /^\/api\/users\/([^/]+)\/personal-access-tokens$/, async (ctx, [userId], body) => {
      if (!users.has(userId)) return entityNotFound('user', userId);
      if (!isObject(body) || typeof body.name !== 'string' || body.name === ''
        || (body.expiresAt !== undefined && body.expiresAt !== null && typeof body.expiresAt !== 'number')) {
        return errorBodies.invalidInput;
      }
      if (typeof body.expiresAt === 'number' && body.expiresAt <= Date.now()) {
        return [400, { code: 'request.invalid_input', message: 'Input is invalid. The value of `expiresAt` must be in the future.' }];
      }
      for (const pat of stores.personalAccessTokens.values()) {
        if (pat.userId === userId && pat.name === body.name) {
          return [422, { code: 'user.personal_access_token_name_exists', message: 'Personal access token name already exists.' }];
        }
      }
      const pat = {
        userId, name: body.name, value: `pat_${randomString(32, alnum)}`, createdAt: Date.now(), expiresAt: body.expiresAt ?? null,
      };
      stores.personalAccessTokens.set(pat.value, pat);
      return [201, patJSON(pat)];
    }],
    ['GET', /^\/api\/users\/([^/]+)\/personal-access-tokens$/, async (ctx, [userId]) => {
      if (!users.has(userId)) return entityNotFound('user', userId);
      return [200, [...stores.personalAccessTokens.values()].filter((p) => p.userId === userId).map(patJSON)];
    }],
    ['DELETE', /^\/api\/users\/([^/]+)\/personal-access-tokens\/([^/]+)$/, async (ctx, [userId, name]) => {
      for (const [value, pat] of stores.personalAccessTokens) {
        if (pat.userId === userId && pat.name === decodeURIComponent(name)) {
          stores.personalAccessTokens.delete(value);
          return [204];
        }
      }
      return [404, { code: 'entity.not_found', message: 'The personal access token does not exist.' }];
    }],
    ['POST', /^\/api\/one-time-tokens$/, async (ctx, _, body) => {
      if (!isObject(body) || typeof body.email !== 'string' || !/^\S+@\S+\.\S+$/.test(body.email)
        || (body.expiresIn !== undefined && (!Number.isInteger(body.expiresIn) || body.expiresIn <= 0))) {
        return errorBodies.invalidInput;
      }
      const now = Date.now();
      const ott = {
        tenantId: 'default',
        id: randomString(21, lowerAlnum),
        email: body.email,
        token: randomString(32, alnum),
        context: isObject(body.context) ? body.context : {},
        createdAt: now,
        expiresAt: now + (body.expiresIn ?? oneTimeTokenTtlSeconds) * 1000,
      };
      stores.oneTimeTokens.set(ott.token, ott);
      return [201, {
        tenantId: ott.tenantId,
        id: ott.id,
        email: ott.email,
        token: ott.token,
        context: ott.context,
        status: 'active',
        createdAt: ott.createdAt,
        expiresAt: ott.expiresAt,
      }];
    }],
  ];

  return async function handle(ctx, readJSON, json) {
    const matches = routes.filter(([, re]) => re.test(ctx.path));
    if (matches.length === 0) return false;
    const route = matches.find(([method]) => method === ctx.method);
    ctx.set('Cache-Control', 'no-store');
    const refused = authenticate(ctx);
    if (refused) {
      json(ctx, ...refused);
      return true;
    }
    if (!route) {
      json(ctx, 405, { code: 'guard.method_not_allowed', message: 'Method not allowed.' });
      return true;
    }
    const [, re, fn] = route;
    const body = ctx.method === 'POST' || ctx.method === 'PATCH' ? await readJSON(ctx) : undefined;
    if ((ctx.method === 'POST' || ctx.method === 'PATCH') && body === undefined) {
      json(ctx, ...errorBodies.invalidInput);
      return true;
    }
    const [status, out] = await fn(ctx, re.exec(ctx.path).slice(1), body);
    json(ctx, status, out);
    return true;
  };
}
