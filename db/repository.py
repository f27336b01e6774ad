"""The storage API the routes and the UI call (never raw SQL). Keyword-only functions, Session first.

Each function that changes data commits before it returns; reads leave the session as it was.
Someone else's session is indistinguishable from a missing one (None, [], False or NotFoundError).
"""

from db.repo_adapters import list_adapter_registrations, register_adapter, unregister_adapter
from db.repo_common import NotFoundError
from db.repo_drafts import clear_draft, get_draft, save_draft
from db.repo_messages import (
    abort_unfinished_generations,
    add_message,
    delete_reply,
    edit_reply,
    finish_generation,
    list_messages,
    reopen_generation,
    save_partial,
    start_generation,
)
from db.repo_sessions import (
    create_session,
    create_share_token,
    delete_session,
    get_session,
    get_shared_session,
    list_sessions,
    rename_session,
    revoke_share_token,
)
from db.repo_styles import (
    SyncReport,
    add_style_usage,
    create_style,
    disable_style,
    get_style,
    list_styles,
    sync_manifest_styles,
    update_style,
)
from db.repo_users import (
    authenticate,
    create_user,
    delete_inactive_guests,
    delete_user,
    get_user,
    get_user_by_username,
)

__all__ = [
    "NotFoundError",
    "SyncReport",
    "abort_unfinished_generations",
    "add_message",
    "add_style_usage",
    "authenticate",
    "clear_draft",
    "create_session",
    "create_share_token",
    "create_style",
    "create_user",
    "delete_inactive_guests",
    "delete_reply",
    "delete_session",
    "delete_user",
    "disable_style",
    "edit_reply",
    "finish_generation",
    "get_draft",
    "get_session",
    "get_shared_session",
    "get_style",
    "get_user",
    "get_user_by_username",
    "list_adapter_registrations",
    "list_messages",
    "list_sessions",
    "list_styles",
    "register_adapter",
    "reopen_generation",
    "rename_session",
    "revoke_share_token",
    "save_draft",
    "save_partial",
    "start_generation",
    "sync_manifest_styles",
    "unregister_adapter",
    "update_style",
]
