// The refresh_token grant with Logto's organization tokens (Logto RFC 0001).
//
// Logto does not add a grant type for organization tokens: it replaces
// oidc-provider's refresh_token grant with a copy of it that also takes
// `organization_id` (packages/core/src/oidc/grants/refresh-token.ts). This
// file does the same minimal thing on oidc-provider 8.8.1: it is that
// version's lib/actions/grants/refresh_token.js (MIT, Filip Skokan), with the
// parts Logto adds marked "Logto RFC 0001". Unused branches (mTLS, DPoP,
// CIBA/device code) are dropped: the fixture enables none of them.
//
// What Logto adds:
//   - organization_id of an organization the user is not a member of:
//     403 access_denied "user is not a member of the organization";
//   - a refresh token without urn:logto:scope:organizations: 403
//     insufficient_scope "refresh token missing required scope";
//   - organization_id without resource: a JWT access token whose aud is
//     urn:logto:organization:<id> and whose scope is the user's organization
//     role scopes that the refresh token carries (read:org only when
//     urn:logto:resource:organizations was requested at /oidc/auth);
//   - organization_id with resource: the usual resource token (the
//     organization_id claim is added by extraTokenClaims in server.js).
//
// Everything else, in particular rotation (rotateRefreshToken) and the
// replay rule (a consumed refresh token presented again revokes the whole
// grant), is oidc-provider's own code.

import difference from 'oidc-provider/lib/helpers/_/difference.js';
import { InvalidGrant, InvalidScope } from 'oidc-provider/lib/helpers/errors.js';
import presence from 'oidc-provider/lib/helpers/validate_presence.js';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';
import revoke from 'oidc-provider/lib/helpers/revoke.js';
import * as formatters from 'oidc-provider/lib/helpers/formatters.js';
import filterClaims from 'oidc-provider/lib/helpers/filter_claims.js';
import resolveResource from 'oidc-provider/lib/helpers/resolve_resource.js';
import { errors } from 'oidc-provider';

const gty = 'refresh_token';

export const organizationsScope = 'urn:logto:scope:organizations';
export const organizationUrn = (id) => `urn:logto:organization:${id}`;

/** The parameters of the grant; `resource` is added (and allowed twice) when registering. */
export const parameters = ['refresh_token', 'scope', 'organization_id'];

function forbidden(ErrorClass, ...args) {
  const error = new ErrorClass(...args);
  error.statusCode = 403;
  error.status = 403;
  return error;
}

/**
 * @param {object} seed - the fixture's data: isMember(orgId, userId) and
 *   organizationScopes(orgId, userId) (the scope names the user's
 *   organization roles grant).
 */
export function buildHandler(seed) {
  return async function refreshTokenHandler(ctx, next) {
    presence(ctx, 'refresh_token');

    const conf = instance(ctx.oidc.provider).configuration();
    const {
      conformIdTokenClaims,
      rotateRefreshToken,
      features: { userinfo, resourceIndicators },
    } = conf;

    const { RefreshToken, Account, AccessToken, IdToken } = ctx.oidc.provider;
    const { client } = ctx.oidc;

    let refreshTokenValue = ctx.oidc.params.refresh_token;
    let refreshToken = await RefreshToken.find(refreshTokenValue, { ignoreExpiration: true });

    if (!refreshToken) {
      throw new InvalidGrant('refresh token not found');
    }
    if (refreshToken.clientId !== client.clientId) {
      throw new InvalidGrant('client mismatch');
    }
    if (refreshToken.isExpired) {
      throw new InvalidGrant('refresh token is expired');
    }

    const grant = await ctx.oidc.provider.Grant.find(refreshToken.grantId, {
      ignoreExpiration: true,
    });
    if (!grant) {
      throw new InvalidGrant('grant not found');
    }
    if (grant.isExpired) {
      throw new InvalidGrant('grant is expired');
    }
    if (grant.clientId !== client.clientId) {
      throw new InvalidGrant('client mismatch');
    }

    if (ctx.oidc.params.scope) {
      const missing = difference([...ctx.oidc.requestParamScopes], [...refreshToken.scopes]);
      if (missing.length !== 0) {
        throw new InvalidScope(`refresh token missing requested ${formatters.pluralize('scope', missing.length)}`, missing.join(' '));
      }
    }

    ctx.oidc.entity('RefreshToken', refreshToken);
    ctx.oidc.entity('Grant', grant);

    const account = await Account.findAccount(ctx, refreshToken.accountId, refreshToken);
    if (!account) {
      throw new InvalidGrant('refresh token invalid (referenced account not found)');
    }
    if (refreshToken.accountId !== grant.accountId) {
      throw new InvalidGrant('accountId mismatch');
    }
    ctx.oidc.entity('Account', account);

    // Replay of a rotated (consumed) refresh token: the token and the whole
    // grant are revoked. The adapter in server.js keeps a consumed refresh
    // token valid for 3 s, as Logto's does.
    if (refreshToken.consumed) {
      await Promise.all([refreshToken.destroy(), revoke(ctx, refreshToken.grantId)]);
      throw new InvalidGrant('refresh token already used');
    }

    /* === Logto RFC 0001 === */
    const organizationId = ctx.oidc.params.organization_id
      ? String(ctx.oidc.params.organization_id)
      : undefined;
    if (organizationId) {
      if (!seed.isMember(organizationId, account.accountId)) {
        throw forbidden(errors.AccessDenied, 'user is not a member of the organization');
      }
      if (!refreshToken.scopes.has(organizationsScope)) {
        throw new errors.InsufficientScope('refresh token missing required scope', organizationsScope);
      }
    }
    /* === End Logto RFC 0001 === */

    if (
      rotateRefreshToken === true
      || (typeof rotateRefreshToken === 'function' && await rotateRefreshToken(ctx))
    ) {
      await refreshToken.consume();
      ctx.oidc.entity('RotatedRefreshToken', refreshToken);

      refreshToken = new RefreshToken({
        accountId: refreshToken.accountId,
        acr: refreshToken.acr,
        amr: refreshToken.amr,
        authTime: refreshToken.authTime,
        claims: refreshToken.claims,
        client,
        expiresWithSession: refreshToken.expiresWithSession,
        iiat: refreshToken.iiat,
        grantId: refreshToken.grantId,
        gty: refreshToken.gty,
        nonce: refreshToken.nonce,
        resource: refreshToken.resource,
        rotations: typeof refreshToken.rotations === 'number' ? refreshToken.rotations + 1 : 1,
        scope: refreshToken.scope,
        sessionUid: refreshToken.sessionUid,
        sid: refreshToken.sid,
        rar: refreshToken.rar,
      });

      if (refreshToken.gty && !refreshToken.gty.endsWith(gty)) {
        refreshToken.gty = `${refreshToken.gty} ${gty}`;
      }

      ctx.oidc.entity('RefreshToken', refreshToken);
      refreshTokenValue = await refreshToken.save();
    }

    const at = new AccessToken({
      accountId: account.accountId,
      client,
      expiresWithSession: refreshToken.expiresWithSession,
      grantId: refreshToken.grantId,
      gty: refreshToken.gty,
      sessionUid: refreshToken.sessionUid,
      sid: refreshToken.sid,
    });

    if (at.gty && !at.gty.endsWith(gty)) {
      at.gty = `${at.gty} ${gty}`;
    }

    const scope = ctx.oidc.params.scope ? ctx.oidc.requestParamScopes : refreshToken.scopes;

    if (organizationId && !ctx.oidc.params.resource) {
      /* === Logto RFC 0001 === */
      // An organization token: aud is the organization's URN, scope the
      // organization role scopes the refresh token carries.
      const available = seed.organizationScopes(organizationId, account.accountId);
      const audience = organizationUrn(organizationId);
      at.resourceServer = {
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
      at.scope = available.filter((name) => scope.has(name)).join(' ');
      /* === End Logto RFC 0001 === */
    } else {
      const resource = await resolveResource(
        ctx,
        refreshToken,
        { userinfo, resourceIndicators },
        scope,
      );

      if (resource) {
        const resourceServerInfo = await resourceIndicators
          .getResourceServerInfo(ctx, resource, ctx.oidc.client);
        at.resourceServer = new ctx.oidc.provider.ResourceServer(resource, resourceServerInfo);
        at.scope = grant.getResourceScopeFiltered(
          resource,
          [...scope].filter(Set.prototype.has.bind(at.resourceServer.scopes)),
        );
      } else {
        at.claims = refreshToken.claims;
        at.scope = grant.getOIDCScopeFiltered(scope);
      }
    }

    ctx.oidc.entity('AccessToken', at);
    const accessToken = await at.save();

    let idToken;
    if (scope.has('openid')) {
      const claims = filterClaims(refreshToken.claims, 'id_token', grant);
      const rejected = grant.getRejectedOIDCClaims();
      const token = new IdToken(({
        ...await account.claims('id_token', [...scope].join(' '), claims, rejected),
        acr: refreshToken.acr,
        amr: refreshToken.amr,
        auth_time: refreshToken.authTime,
      }), { ctx });

      if (conformIdTokenClaims && userinfo.enabled && !at.aud) {
        token.scope = 'openid';
      } else {
        token.scope = grant.getOIDCScopeFiltered(scope);
      }
      token.mask = claims;
      token.rejected = rejected;

      token.set('nonce', refreshToken.nonce);
      token.set('at_hash', accessToken);
      token.set('sid', refreshToken.sid);

      idToken = await token.issue({ use: 'idtoken' });
    }

    ctx.body = {
      access_token: accessToken,
      expires_in: at.expiration,
      id_token: idToken,
      refresh_token: refreshTokenValue,
      scope: refreshToken.scope ? at.scope : (at.scope || undefined),
      token_type: at.tokenType,
    };

    await next();
  };
}
