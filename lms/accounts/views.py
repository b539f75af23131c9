"""Authentication (/api/v1/auth) and user administration (/api/v1/users)."""

from flask import current_app, g, session
from flask.views import MethodView
from flask_login import login_user, logout_user
from flask_smorest import Blueprint
from flask_wtf.csrf import generate_csrf

from lms.accounts import imports, services, throttle
from lms.accounts.errors import SessionRequired
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
from lms.core.errors import Invalid
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


@auth_blp.route("/csrf")
@auth_blp.response(200, CsrfOut)
def csrf_token():
    """A CSRF token for cookie-authenticated unsafe requests (send it as X-CSRFToken)."""
    return {"csrf_token": generate_csrf()}


@auth_blp.route("/login", methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"])
@auth_blp.arguments(LoginIn)
@auth_blp.response(200, LoginOut)
@auth_blp.alt_response(401, description="Wrong email or password, or inactive account.")
@auth_blp.alt_response(
    429,
    description="Too many attempts from this address, or (``too-many-attempts``) for this "
    "account from this address; counted before the password is checked.",
)
def login(credentials):
    """Log in with email and password; starts a new session and returns a new CSRF token."""
    account = services.login_key(credentials["email"])
    throttle.count_attempt("login", account)
    user = services.authenticate(credentials["email"], credentials["password"])
    throttle.refund_attempts("login", account)
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
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"])
@load()
@auth_blp.arguments(PasswordChangeIn)
@auth_blp.response(200, CsrfOut)
@auth_blp.alt_response(429, description="Too many attempts, as for login.")
def change_password(data):
    """Change your password. Every session ends and every API token is revoked; this
    session restarts with a new key. Guesses of the current password are limited as
    login attempts are."""
    user = actor()
    throttle.count_attempt("password", str(user.id))
    try:
        services.change_password(user, data["current_password"], data["new_password"])
    except Invalid as error:
        if "current_password" not in (error.errors or {}):  # right password, weak new one
            throttle.refund_attempts("password", str(user.id))
        raise
    throttle.refund_attempts("password", str(user.id))
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
    @auth_blp.alt_response(403, description="``session-required``: called with an API token.")
    def post(self, data):
        """Create a personal API token (from a logged-in session only, never with a token).
        It lives at most LMS_API_TOKEN_MAX_DAYS days. The secret is shown once, here."""
        if g.get("authenticated_by") == "token":
            raise SessionRequired()
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
    return imports.import_users(
        files["file"],
        dry_run=form["dry_run"],
        update_existing=form["update_existing"],
        actor=actor(),
    )
