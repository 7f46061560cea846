// The token exchange grant (RFC 8693) as Logto v1.37 does it (Logto RFC
// 0005, packages/core/src/oidc/grants/token-exchange/{index,account,
// actor-token}.ts), on oidc-provider 8.8.1, for what fiberlogto's
// TokenExchangeRequest and personal access tokens send, as
// docs/logto-observed.md section 18 records it:
//
//   - the app must be allowed to exchange tokens: Logto adds the grant type
//     to an application's grant_types only with
//     customClientMetadata.allowTokenExchange, so oidc-provider's own check
//     answers 400 invalid_request "requested grant type is not allowed for
//     this client" (server.js makes grantTypeAllowed read the switch, which
//     PATCH /api/applications/:id sets);
//   - subject_token and subject_token_type are required (400
//     invalid_request);
//   - subject_token_type urn:ietf:params:oauth:token-type:access_token: a
//     subject token (sub_..., POST /api/subject-tokens), single use, 600 s;
//     urn:logto:token-type:personal_access_token: a personal access token
//     (pat_..., POST /api/users/:id/personal-access-tokens), as often as
//     wanted until it expires. Anything else, unknown, expired or used: 400
//     invalid_grant "grant request is invalid" (the reason in
//     error_detail, which the answer does not carry);
//   - organization_id: the user must be a member (403 access_denied);
//   - resource: one, known (400 invalid_target);
//   - actor_token: with actor_token_type ...:access_token, a live opaque
//     access token with the openid scope (a sign-in without resource), else
//     400 invalid_grant; its user is the issued token's act.sub.
//
// The token is issued to the exchanging app for the subject's user: for a
// resource, a JWT whose scope is the requested scopes the user's roles give
// (the resource server's scopes are the user's, server.js); for an
// organization alone, an organization token; with neither, an opaque token
// with the requested OpenID Connect scopes. The answer is
// {access_token, expires_in, scope, token_type}: no refresh or ID token.
// A subject token is used up only by a successful exchange.

import { InvalidGrant, InvalidTarget } from 'oidc-provider/lib/helpers/errors.js';
import presence from 'oidc-provider/lib/helpers/validate_presence.js';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';
import { errors } from 'oidc-provider';

export const grantType = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** Logto's token types (TokenExchangeTokenType). */
export const tokenTypes = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  personalAccessToken: 'urn:logto:token-type:personal_access_token',
  // Logto's older name for a subject token's type, still taken.
  impersonationToken: 'urn:logto:token-type:impersonation_token',
};

/** The parameters of the grant; `resource` is added (and allowed twice, to be refused) when registering. */
export const parameters = ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'organization_id', 'scope'];

const organizationUrn = (id) => `urn:logto:organization:${id}`;

function forbidden(ErrorClass, ...args) {
  const error = new ErrorClass(...args);
  error.statusCode = 403;
  error.status = 403;
  return error;
}

/**
 * Logto's validateSubjectToken: the user the subject token stands for, and
 * the subject token record to use up (none for a personal access token).
 */
function validateSubjectToken(tokens, value, type) {
  const now = Date.now();
  if (type === tokenTypes.accessToken || type === tokenTypes.impersonationToken) {
    const token = tokens.subjectTokens.get(value);
    if (!token) throw new InvalidGrant('subject token not found');
    if (token.expiresAt <= now) throw new InvalidGrant('subject token is expired');
    if (token.consumedAt) throw new InvalidGrant('subject token is already consumed');
    return { userId: token.userId, subjectToken: token };
  }
  if (type === tokenTypes.personalAccessToken) {
    const token = tokens.personalAccessTokens.get(value);
    if (!token) throw new InvalidGrant('subject token not found');
    if (token.expiresAt && token.expiresAt <= now) throw new InvalidGrant('subject token is expired');
    return { userId: token.userId };
  }
  throw new InvalidGrant('unsupported subject token type');
}

/**
 * @param {object} seed - isMember(orgId, userId), organizationScopes(orgId, userId)
 * @param {object} tokens - the Management API's stores: subjectTokens and
 *   personalAccessTokens, Maps by token value
 */
export function buildHandler(seed, tokens) {
  return async function tokenExchangeHandler(ctx, next) {
    const { client, params, provider } = ctx.oidc;
    const { AccessToken, Grant } = provider;

    presence(ctx, 'subject_token', 'subject_token_type');

    const {
      features: { resourceIndicators },
      scopes: oidcScopes,
    } = instance(provider).configuration();

    const { userId, subjectToken } = validateSubjectToken(
      tokens,
      String(params.subject_token),
      String(params.subject_token_type),
    );
    const account = await provider.Account.findAccount(ctx, userId);
    if (!account) {
      throw new InvalidGrant('subject token invalid (referenced account not found)');
    }
    ctx.oidc.entity('Account', account);

    const organizationId = params.organization_id ? String(params.organization_id) : undefined;
    if (organizationId && !seed.isMember(organizationId, account.accountId)) {
      throw forbidden(errors.AccessDenied, 'user is not a member of the organization');
    }

    const grant = new Grant({ accountId: account.accountId, clientId: client.clientId });
    const accessToken = new AccessToken({
      accountId: account.accountId,
      clientId: client.clientId,
      gty: grantType,
      client,
      scope: undefined,
    });

    const scope = ctx.oidc.requestParamScopes;
    const { resource } = params;
    if (Array.isArray(resource)) {
      throw new InvalidTarget('only a single resource indicator value is supported');
    }

    if (organizationId && !resource) {
      // An organization token (Logto RFC 0001): aud the organization's
      // URN, scope the requested scopes the user's organization roles give.
      const available = seed.organizationScopes(organizationId, account.accountId);
      const audience = organizationUrn(organizationId);
      accessToken.resourceServer = {
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES384' } },
        accessTokenTTL: 3600,
        audience,
        scope: available.join(' '),
        get scopes() {
          return new Set(available);
        },
        identifier: () => audience,
      };
      accessToken.scope = available.filter((name) => scope.has(name)).join(' ');
      grant.addResourceScope(audience, accessToken.scope);
    } else if (resource) {
      // getResourceServerInfo throws invalid_target for an unknown resource;
      // its scopes are the subject's (the Account entity above).
      const info = await resourceIndicators.getResourceServerInfo(ctx, resource, client);
      accessToken.resourceServer = new provider.ResourceServer(resource, info);
      accessToken.scope = [...scope].filter(Set.prototype.has.bind(accessToken.resourceServer.scopes)).join(' ');
      grant.addResourceScope(resource, accessToken.scope);
    } else {
      const statics = new Set(oidcScopes);
      accessToken.claims = ctx.oidc.claims;
      accessToken.scope = [...scope].filter((name) => statics.has(name)).join(' ');
      grant.addOIDCScope(accessToken.scope);
    }

    // Logto's handleActorToken.
    if (params.actor_token && params.actor_token_type !== tokenTypes.accessToken) {
      throw new InvalidGrant('unsupported actor token type');
    }
    if (params.actor_token) {
      const actor = await AccessToken.find(String(params.actor_token)).catch(() => undefined);
      if (!actor?.accountId) throw new InvalidGrant('invalid actor token');
      if (!actor.scope?.split(' ').includes('openid')) throw new InvalidGrant('actor token must have openid scope');
      // extraTokenClaims (server.js) puts it in the JWT, as Logto's does.
      accessToken.extra = { act: { sub: actor.accountId } };
    }

    accessToken.grantId = await grant.save();
    ctx.oidc.entity('Grant', grant);
    ctx.oidc.entity('AccessToken', accessToken);
    const value = await accessToken.save();

    if (subjectToken) subjectToken.consumedAt = Date.now();

    ctx.body = {
      access_token: value,
      expires_in: accessToken.expiration,
      scope: accessToken.scope,
      token_type: accessToken.tokenType,
    };

    await next();
  };
}
