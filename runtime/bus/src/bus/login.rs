//! Redis refusing a client, in words: a wrong user or password, a missing one, protected mode.
//! Waiting does not cure these, and "unreachable" would send a person looking for the wrong
//! thing.

use redis::RedisError;

/// What Redis refused and what to do, when `e` is a refusal of the login or of the client.
pub(super) fn login_problem(e: &RedisError) -> Option<String> {
    let text = e.to_string();
    let code = e.code().unwrap_or_default();
    let has = |word: &str| code == word || text.contains(word);
    if has("WRONGPASS") {
        Some(
            "it refused the login: no such user, a wrong password, or the user is disabled. Check \
             the user and password in the URL (on a satellite, the REDIS_URL `sense-pulse node \
             add` printed on the hub)"
                .to_owned(),
        )
    } else if has("NOAUTH") {
        Some(
            "it wants a password: put the user and password in the URL, as \
             redis://user:password@host:6379"
                .to_owned(),
        )
    } else if has("DENIED") {
        Some(
            "it is in protected mode, and takes only local clients while its default user has no \
             password: give the default user a password (requirepass, or ACL SETUSER default \
             >…), or make the users with `sense-pulse node hub-users --apply`"
                .to_owned(),
        )
    } else {
        None
    }
}
