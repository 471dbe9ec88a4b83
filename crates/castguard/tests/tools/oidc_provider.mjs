// A real OpenID Connect provider (npm oidc-provider) on 127.0.0.1, as the
// external STS of crates/castguard/tests/oidc_provider_rollover.rs.
//
//   node oidc_provider.mjs [PORT]
//
// Serves discovery (/.well-known/openid-configuration), the key set (/jwks)
// and a client_credentials token endpoint (/token) whose access tokens are
// RS256 JWTs (resource indicators, accessTokenFormat 'jwt') for the audience
// AUDIENCE with a `groups` claim per client: `entitled` is in EntitledUsers,
// `outsider` is not. Each start signs with a new RSA key, so a restart on
// the same PORT is a signing-key rollover. Prints one JSON line when
// listening: {"issuer": ..., "kid": ...}.
import Provider from 'oidc-provider';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

const AUDIENCE = 'urn:castguard:e2e';
const GROUPS = { entitled: ['EntitledUsers'], outsider: ['Others'] };

const port = Number(process.argv[2] ?? 0);
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const kid = randomUUID();
const jwk = { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };

const server = createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    jwks: { keys: [jwk] },
    clients: Object.keys(GROUPS).map((id) => ({
      client_id: id,
      client_secret: `${id}-secret`,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
    })),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          audience: AUDIENCE,
          scope: 'keys',
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    extraTokenClaims: (ctx, token) => ({ groups: GROUPS[token.clientId] ?? [] }),
  });
  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer, kid }));
});
