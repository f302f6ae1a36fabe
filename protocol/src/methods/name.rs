//! Every method name of protocol v1, in either direction: match on these, never on a string
//! literal.

/// Host → backend, first request.
pub const INITIALIZE: &str = "initialize";
/// Host → backend, one per inbound message.
pub const HANDLE_A2A: &str = "handle_a2a";
/// Either direction, liveness.
pub const PING: &str = "ping";
/// Host → backend notification.
pub const CANCEL_REQUEST: &str = "$/cancelRequest";
/// Backend → host notification.
pub const PROGRESS: &str = "$/progress";
/// Host → backend, to a backend that serves several workspaces: serve one more.
pub const WORKSPACE_OPEN: &str = "workspace/open";
/// Host → backend, to a backend that serves several workspaces: stop serving one.
pub const WORKSPACE_CLOSE: &str = "workspace/close";

/// Backend → host: the workspaces this one may talk to.
pub const PEERS_LIST: &str = "peers/list";
/// Backend → host: one workspace's registry record.
pub const PEERS_DISCOVER: &str = "peers/discover";
/// Backend → host: a message to another workspace.
pub const PEERS_SEND: &str = "peers/send";
/// Backend → host: the serving workspace's own record.
pub const WORKSPACE_INFO: &str = "workspace/info";
/// Backend → host: a message to the person in the canvas.
pub const USER_NOTIFY: &str = "user/notify";

/// The backend → host methods a host may offer in `capabilities.hostMethods`, in the order of
/// SPEC §14.
pub const HOST_METHODS: &[&str] = &[
    PEERS_LIST,
    PEERS_DISCOVER,
    PEERS_SEND,
    WORKSPACE_INFO,
    USER_NOTIFY,
];
