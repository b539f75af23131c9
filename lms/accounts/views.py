"""Authentication (/api/v1/auth) and user administration (/api/v1/users)."""

from flask import current_app, g, session
from flask.views import MethodView
from flask_login import login_user, logout_user
from flask_smorest import Blueprint
from flask_wtf.csrf import generate_csrf

from lms.accounts import imports, services
from lms.accounts.models import Role
from lms.accounts.schemas import (
    ActivateIn,
    ActivationTokenOut,
    CsrfOut,
    ImportFile,
    ImportForm,
    ImportReport,
    ImportUpload,
    LoginIn,
    LoginOut,
    PasswordChangeIn,
    TokenCreate,
    TokenCreatedOut,
    TokenOut,
    UserCreate,
    UserCreatedOut,
    UserListArgs,
    UserOut,
    UserUpdate,
)
from lms.core.auth import accepts, actor, load
from lms.core.pagination import paginate
from lms.extensions import limiter

auth_blp = Blueprint(
    "auth",
    __name__,
    url_prefix="/api/v1/auth",
    description="Login, sessions, CSRF, activation and personal API tokens.",
)
users_blp = Blueprint(
    "users",
    __name__,
    url_prefix="/api/v1/users",
    description="User administration and bulk import (admins).",
)


def _fresh_csrf_token() -> str:
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
    return generate_csrf()


def _login_account_key() -> str:
    from flask import request

    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    return "login-account:" + (services.normalize_email(email) if isinstance(email, str) else "")


@auth_blp.route("/csrf")
@auth_blp.response(200, CsrfOut)
def csrf_token():
    """A CSRF token for cookie-authenticated unsafe requests (send it as X-CSRFToken)."""
    return {"csrf_token": generate_csrf()}


@auth_blp.route("/login", methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"])
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"],
    key_func=_login_account_key,
    deduct_when=lambda r: r.status_code == 401,
)
@auth_blp.arguments(LoginIn)
@auth_blp.response(200, LoginOut)
@auth_blp.alt_response(401, description="Wrong email or password, or inactive account.")
@auth_blp.alt_response(429, description="Too many attempts.")
def login(credentials):
    """Log in with email and password; starts a new session and returns a new CSRF token."""
    user = services.authenticate(credentials["email"], credentials["password"])
    old_key = services.current_session_key()
    session.clear()  # a new session identifier: nothing from before login survives
    services.end_session(old_key)
    services.start_session(user)
    login_user(user)
    session.permanent = True
    return {"user": user, "csrf_token": _fresh_csrf_token()}


@auth_blp.route("/logout", methods=["POST"])
@load()
@auth_blp.response(204)
def logout():
    """End this session; a copy of its cookie stops working."""
    services.end_session(services.current_session_key())
    logout_user()
    session.clear()


@auth_blp.route("/me")
@load()
@auth_blp.response(200, UserOut)
def me():
    """The current user."""
    return actor()


@auth_blp.route("/password", methods=["POST"])
@load()
@auth_blp.arguments(PasswordChangeIn)
@auth_blp.response(200, CsrfOut)
def change_password(data):
    """Change your password. Every session ends, and this one restarts with a new key."""
    user = actor()
    services.change_password(user, data["current_password"], data["new_password"])
    if services.current_session_key():
        session.clear()
        services.start_session(user)
        login_user(user)
        session.permanent = True
    return {"csrf_token": _fresh_csrf_token()}


@auth_blp.route("/activate", methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"])
@auth_blp.arguments(ActivateIn)
@auth_blp.response(200, UserOut)
@auth_blp.alt_response(429, description="Too many attempts from this address.")
def activate(data):
    """Set the first password of a new account from its activation token."""
    return services.activate(data["token"], data["password"])


@auth_blp.route("/tokens")
class Tokens(MethodView):
    @load()
    @auth_blp.arguments(TokenCreate)
    @auth_blp.response(201, TokenCreatedOut)
    def post(self, data):
        """Create a personal API token. The secret is shown once, in this answer."""
        token, secret = services.create_api_token(
            actor(), data["name"], data.get("expires_in_days")
        )
        token.token = secret
        return token

    @load()
    @auth_blp.response(200, TokenOut(many=True))
    @auth_blp.paginate()
    def get(self, pagination_parameters):
        """Your API tokens that are not revoked (never their secrets)."""
        return paginate(services.list_api_tokens(actor()), pagination_parameters)


@auth_blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@load(token=services.own_api_token)
@auth_blp.response(204)
def revoke_token(token):
    """Revoke one of your API tokens."""
    services.revoke_api_token(token, actor=actor())


@users_blp.route("")
class Users(MethodView):
    @load(roles=Role.ADMIN)
    @users_blp.arguments(UserCreate)
    @users_blp.response(201, UserCreatedOut)
    @users_blp.alt_response(409, description="``email-taken``: another account has this email.")
    def post(self, data):
        """Create an account; without a password the answer carries an activation token."""
        user, token = services.create_user(data, actor=actor())
        user.activation_token = token
        return user

    @load(roles=Role.ADMIN)
    @users_blp.arguments(UserListArgs, location="query")
    @users_blp.response(200, UserOut(many=True))
    @users_blp.paginate()
    def get(self, args, pagination_parameters):
        """List accounts, filtered by role, activity and a search over email and names."""
        return paginate(services.user_query(**args), pagination_parameters)


@users_blp.route("/<int:user_id>")
class UserItem(MethodView):
    @load(roles=Role.ADMIN)
    @users_blp.response(200, UserOut)
    def get(self, user_id):
        """One account."""
        return services.get_user(user_id)

    @load(roles=Role.ADMIN)
    @users_blp.arguments(UserUpdate)
    @users_blp.response(200, UserOut)
    @users_blp.alt_response(409, description="``email-taken``: another account has this email.")
    def patch(self, changes, user_id):
        """Update an account. Nobody can change their own role or deactivate themselves."""
        return services.update_user(services.get_user(user_id), changes, actor=actor())


@users_blp.route("/<int:user_id>/activation-token", methods=["POST"])
@load(roles=Role.ADMIN)
@users_blp.response(201, ActivationTokenOut)
@users_blp.alt_response(409, description="``already-activated``: the account has a password.")
def new_activation_token(user_id):
    """Issue a fresh activation token for an account that has not set a password yet."""
    token = services.reissue_activation_token(services.get_user(user_id), actor=actor())
    return {
        "activation_token": token,
        "expires_in_hours": current_app.config["ACTIVATION_TOKEN_HOURS"],
    }


@users_blp.route("/import", methods=["POST"])
@load(roles=Role.ADMIN)
@accepts("multipart/form-data")
@users_blp.arguments(ImportFile, location="files")
@users_blp.arguments(ImportForm, location="form", content_type="multipart/form-data")
@users_blp.doc(requestBody={"content": {"multipart/form-data": {"schema": ImportUpload}}})
@users_blp.response(200, ImportReport)
@users_blp.alt_response(409, description="``email-taken``: an account was created meanwhile.")
def import_users(files, form):
    """Import accounts from CSV (UTF-8 or GB18030) or XLSX; all rows or none."""
    return imports.import_users(files["file"], dry_run=form["dry_run"], actor=actor())
