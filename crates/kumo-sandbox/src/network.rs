//! A network namespace per execution environment.
//!
//! Each environment gets a network namespace of its own holding only a loopback interface, and in
//! it two listening sockets that Kumo creates and serves: the Runtime API at `127.0.0.1:9001`
//! (AWS's `AWS_LAMBDA_RUNTIME_API`) and Kumo's own endpoint at `127.0.0.1:<Kumo's port>` (what
//! functions get in `AWS_ENDPOINT_URL`, so SDK calls from inside reach Kumo). Nothing of the host's
//! network, and nothing of another environment's, is reachable from inside: no other Runtime API,
//! no other listener, no abstract Unix socket of the host.
//!
//! Kumo makes a namespace on a short-lived thread (`unshare(CLONE_NEWNET)` moves only the calling
//! thread): it brings `lo` up, binds the two listeners, opens `/proc/thread-self/ns/net` and ends.
//! Sockets stay in the namespace they were created in whichever thread serves them. The namespace's
//! descriptor goes to the environment's first process when it is parked (an exec'd launcher
//! inherits it, a zygote's child receives it with `SCM_RIGHTS`), which `setns`es into it before it
//! makes its other namespaces; Kumo keeps only the listeners. The namespace ends when its last
//! process has exited and Kumo has closed the listeners (and the connections accepted on them).
//! Making one takes about a millisecond, always ahead of a cold start (with the parked process).

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::fd::{FromRawFd as _, OwnedFd};
use std::sync::{Arc, OnceLock};

use kumo_core::CallerEnvironment;

use crate::outbound::{OutboundLink, OutboundStack};

/// Where the Runtime API listens inside an environment's namespace, as on AWS.
pub const RUNTIME_API_PORT: u16 = 9001;
/// `AWS_LAMBDA_RUNTIME_API` of an environment with a network namespace of its own.
pub const RUNTIME_API_ADDRESS: &str = "127.0.0.1:9001";
/// The port of Kumo's endpoint inside the namespaces when Kumo's own port is the Runtime API's.
const ENDPOINT_PORT_INSTEAD_OF_9001: u16 = 4566;

/// Serves Kumo's own API to one environment, on a listener inside its network namespace.
pub trait FunctionEndpoint: Send + Sync {
    /// Serves `listener` (already listening) with every request marked as coming from `caller`,
    /// until the returned task is aborted.
    fn serve(&self, listener: tokio::net::TcpListener, caller: CallerEnvironment) -> tokio::task::JoinHandle<()>;
}

/// Kumo's endpoint as environments reach it.
struct Endpoint {
    /// The port inside the namespaces.
    port: u16,
    server: Arc<dyn FunctionEndpoint>,
}

/// The network namespaces of this host's environments.
#[derive(Default)]
pub(crate) struct Network {
    endpoint: OnceLock<Endpoint>,
    /// The user-mode network stack attached to each namespace (`--function-network outbound`).
    outbound: OnceLock<OutboundStack>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("endpoint_port", &self.endpoint.get().map(|e| e.port))
            .field("outbound", &self.outbound.get())
            .finish()
    }
}

impl Network {
    /// Serves Kumo's endpoint (listening on `kumo_port` on the host) inside every namespace made
    /// from now on; false if it already was.
    pub(crate) fn connect(&self, kumo_port: u16, server: Arc<dyn FunctionEndpoint>) -> bool {
        self.endpoint.set(Endpoint { port: endpoint_port(kumo_port), server }).is_ok()
    }

    /// `AWS_ENDPOINT_URL` for functions, once the endpoint is connected.
    pub(crate) fn endpoint_url(&self) -> Option<String> {
        self.endpoint.get().map(|endpoint| format!("http://127.0.0.1:{}", endpoint.port))
    }

    /// Gives every namespace made from now on outbound access through `stack`; false if one
    /// was already set.
    pub(crate) fn set_outbound(&self, stack: OutboundStack) -> bool {
        self.outbound.set(stack).is_ok()
    }

    /// Makes a namespace with its listeners (and its outbound link, when enabled). Call within
    /// a tokio runtime.
    pub(crate) fn prepare(&self) -> io::Result<(OwnedFd, NamespaceListeners)> {
        let (namespace, mut listeners) = prepare(self.endpoint.get().map(|endpoint| endpoint.port))
            .map_err(|error| io::Error::new(error.kind(), format!("cannot make a network namespace: {error}")))?;
        if let Some(stack) = self.outbound.get() {
            let link = stack.attach(&namespace).map_err(|error| {
                io::Error::new(error.kind(), format!("cannot give the namespace outbound access: {error}"))
            })?;
            listeners.outbound = Some(link);
        }
        Ok((namespace, listeners))
    }

    /// Starts serving Kumo's endpoint on `listener` for `caller`; `None` before
    /// [`Network::connect`].
    pub(crate) fn serve_endpoint(&self, listener: TcpListener, caller: CallerEnvironment) -> io::Result<EndpointTask> {
        let Some(endpoint) = self.endpoint.get() else {
            return Ok(EndpointTask(None));
        };
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        Ok(EndpointTask(Some(endpoint.server.serve(listener, caller))))
    }
}

/// The port of Kumo's endpoint inside the namespaces: Kumo's own, unless that is 9001.
fn endpoint_port(kumo_port: u16) -> u16 {
    if kumo_port == RUNTIME_API_PORT {
        ENDPOINT_PORT_INSTEAD_OF_9001
    } else {
        kumo_port
    }
}

/// The listeners of one namespace, served by Kumo.
#[derive(Debug)]
pub(crate) struct NamespaceListeners {
    /// `127.0.0.1:9001`.
    pub runtime_api: TcpListener,
    /// `127.0.0.1:<endpoint port>`, once Kumo's endpoint is connected.
    pub endpoint: Option<TcpListener>,
    /// The namespace's user-mode network stack (`--function-network outbound`); it goes with the
    /// environment.
    pub outbound: Option<OutboundLink>,
}

/// Serves Kumo's endpoint to one environment until dropped.
#[derive(Debug)]
pub(crate) struct EndpointTask(Option<tokio::task::JoinHandle<()>>);

impl Drop for EndpointTask {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// Makes a network namespace on a thread of its own: `lo` up, the Runtime API's listener and,
/// with `endpoint_port`, the endpoint's. Returns the namespace's descriptor and the listeners.
pub(crate) fn prepare(endpoint_port: Option<u16>) -> io::Result<(OwnedFd, NamespaceListeners)> {
    std::thread::Builder::new()
        .name("kumo-netns".to_string())
        .spawn(move || prepare_on_this_thread(endpoint_port))?
        .join()
        .map_err(|_| io::Error::other("the network namespace thread panicked"))?
}

/// Only ever runs on a thread that ends right after: the thread stays in the new namespace.
fn prepare_on_this_thread(endpoint_port: Option<u16>) -> io::Result<(OwnedFd, NamespaceListeners)> {
    // SAFETY: unshare takes only flags; it moves this thread alone (CLONE_NEWNET does not need
    // a single-threaded process).
    check(unsafe { libc::unshare(libc::CLONE_NEWNET) })?;
    bring_loopback_up()?;
    // SAFETY: a NUL-terminated path; the result is a fresh descriptor or -1.
    let namespace =
        check(unsafe { libc::open(c"/proc/thread-self/ns/net".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) })?;
    // SAFETY: `namespace` is a fresh descriptor owned by nobody else.
    let namespace = unsafe { OwnedFd::from_raw_fd(namespace) };
    let listen = |port| TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
    let runtime_api = listen(RUNTIME_API_PORT)?;
    let endpoint = endpoint_port.map(listen).transpose()?;
    Ok((namespace, NamespaceListeners { runtime_api, endpoint, outbound: None }))
}

/// A new network namespace's loopback interface is down: `SIOCSIFFLAGS` with `IFF_UP`.
fn bring_loopback_up() -> io::Result<()> {
    // SAFETY: socket takes integers; the result is a fresh descriptor or -1.
    let socket = check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `socket` is a fresh descriptor owned by nobody else.
    let socket = unsafe { OwnedFd::from_raw_fd(socket) };
    let fd = std::os::fd::AsRawFd::as_raw_fd(&socket);
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write the `ifreq` passed, which names `lo`
    // (NUL-terminated: the rest of the name is zero); its flags field is the union's active member.
    unsafe {
        check(libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut request))?;
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        check(libc::ioctl(fd, libc::SIOCSIFFLAGS, &request))?;
    }
    Ok(())
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

/// Moves the calling thread into the namespace at `fd` (the launcher, a zygote's child), then
/// closes `fd`.
pub(crate) fn enter(fd: libc::c_int) -> io::Result<()> {
    // SAFETY: setns takes a descriptor and flags; a wrong descriptor fails with EBADF/EINVAL.
    let entered = check(unsafe { libc::setns(fd, libc::CLONE_NEWNET) });
    // SAFETY: the descriptor was handed to this process for this call only.
    unsafe { libc::close(fd) };
    entered.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kumos_port_is_kept_unless_it_is_the_runtime_apis() {
        assert_eq!(endpoint_port(4566), 4566);
        assert_eq!(endpoint_port(RUNTIME_API_PORT), ENDPOINT_PORT_INSTEAD_OF_9001);
    }

    /// Needs root (CAP_SYS_ADMIN); elsewhere the probe reports the namespace missing instead.
    #[test]
    fn a_prepared_namespace_has_its_own_loopback_and_listeners() {
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        let (first_ns, first) = prepare(Some(4566)).unwrap();
        // A second namespace binds the same ports: nothing is shared.
        let (second_ns, second) = prepare(Some(4566)).unwrap();
        assert_eq!(first.runtime_api.local_addr().unwrap().to_string(), RUNTIME_API_ADDRESS);
        assert_eq!(second.endpoint.as_ref().unwrap().local_addr().unwrap().port(), 4566);
        // Connecting from inside the first namespace reaches only its own listener.
        let connected = std::thread::spawn(move || {
            enter(std::os::fd::IntoRawFd::into_raw_fd(first_ns)).unwrap();
            std::net::TcpStream::connect(RUNTIME_API_ADDRESS).map(|_| ())
        })
        .join()
        .unwrap();
        assert!(connected.is_ok());
        first.runtime_api.set_nonblocking(true).unwrap();
        assert!(first.runtime_api.accept().is_ok(), "the connection arrived at the first namespace's listener");
        second.runtime_api.set_nonblocking(true).unwrap();
        assert!(second.runtime_api.accept().is_err(), "and not at the second's");
        drop(second_ns);
    }
}
