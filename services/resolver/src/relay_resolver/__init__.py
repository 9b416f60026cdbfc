"""relay_resolver: DID → identity (signing key, PDS endpoint, handle) behind a bounded cache.

Entry point `python -m relay_resolver`; the domain object is `resolver.IdentityResolver`.
"""
