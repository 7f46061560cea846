// Back-channel logout as Logto sends it (logto-observed.md §15).
//
// oidc-provider 8's Client#backchannelLogout signs the logout token with
// `expiresIn: 120`, so its tokens carry exp = iat + 120. Logto's carry no
// exp: the rest is the same (header {alg, typ: "logout+jwt", kid}; claims
// sub, events, jti, sid when "session required" is on, aud as a string, iat,
// iss, in that order; POSTed as a form field logout_token, no
// Authorization). This is that method (oidc-provider 8.8.1,
// lib/models/client.js, MIT, Filip Skokan) with the exp left out, signing
// with the same key and algorithm as the ID token and posting with
// oidc-provider's own HTTP helper (2.5 s timeout, no redirects, no retry).
//
// Each attempt is also reported to onEvent (for GET /__fixture/events): the
// URI, the status or error, and the logout token's header and claims, not the
// signed token.

import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';

import * as JWT from 'oidc-provider/lib/helpers/jwt.js';
import request from 'oidc-provider/lib/helpers/request.js';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';

const event = 'http://schemas.openid.net/event/backchannel-logout';

export function logtoBackchannelLogout(provider, onEvent) {
  return async function backchannelLogout(sub, sid) {
    const logoutToken = new provider.IdToken({ sub }, { client: this, ctx: undefined });
    logoutToken.mask = { sub: null };
    logoutToken.set('events', { [event]: {} });
    logoutToken.set('jti', randomBytes(16).toString('base64url'));
    if (this.backchannelLogoutSessionRequired) {
      logoutToken.set('sid', sid);
    }
    const payload = await logoutToken.payload();

    const alg = this.idTokenSignedResponseAlg;
    const { keystore } = instance(provider);
    const [jwk] = keystore.selectForSign({ alg, use: 'sig' });
    const key = await keystore.getKeyObject(jwk, alg);
    // No expiresIn: JWT.sign then leaves exp out, as Logto does.
    const token = await JWT.sign(payload, key, alg, {
      audience: this.clientId,
      issuer: provider.issuer,
      subject: payload.sub,
      typ: 'logout+jwt',
      fields: { kid: jwk.kid },
    });

    const report = {
      type: 'backchannel.logout',
      clientId: this.clientId,
      uri: this.backchannelLogoutUri,
      logoutToken: JWT.decode(token),
    };
    let response;
    try {
      response = await request.call(provider, {
        method: 'POST',
        url: this.backchannelLogoutUri,
        form: { logout_token: token },
      });
    } catch (err) {
      onEvent({ ...report, error: String(err?.message ?? err) });
      throw err;
    }
    const { statusCode } = response;
    onEvent({ ...report, status: statusCode });
    if (statusCode !== 200 && statusCode !== 204) {
      const error = new Error(`expected 200 OK from ${this.backchannelLogoutUri}, got: ${statusCode} ${STATUS_CODES[statusCode]}`);
      error.response = response;
      throw error;
    }
  };
}
