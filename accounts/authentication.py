from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication

from .tokens import FAMILY_CLAIM, family_is_revoked


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's checks (pinned algorithm, signature, expiry, audience, issuer, token type, active
    user) plus one: the token's login family must not have been revoked (logout, refresh reuse)."""

    def get_validated_token(self, raw_token):
        token = super().get_validated_token(raw_token)
        family = token.get(FAMILY_CLAIM)
        if family is None or family_is_revoked(family):
            raise AuthenticationFailed("Token has been revoked.", code="token_revoked")
        return token
