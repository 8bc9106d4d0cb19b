"""The portal's pages of the sessions app: sessions (with their live status) and webhook endpoints."""
