//! The sandbox's side of environments' network namespaces (see `crate::network`): whether this
//! host gives them one, and Kumo's endpoint served inside them.

use std::sync::Arc;

use super::Sandbox;
use crate::network::{EndpointTask, FunctionEndpoint};

impl Sandbox {
    /// Whether each environment gets a network namespace of its own (its Runtime API then is
    /// [`crate::RUNTIME_API_ADDRESS`]; otherwise a port on the host's loopback).
    pub fn isolates_network(&self) -> bool {
        self.network.is_some()
    }

    /// Serves Kumo's endpoint, listening on `kumo_port` on the host, inside every environment's
    /// network namespace through `server` (see [`Sandbox::function_endpoint_url`]). Call before
    /// [`Sandbox::keep_parked_launchers`]: namespaces made before have no such listener. Does
    /// nothing where environments share the host's network.
    pub fn connect_function_endpoint(&self, kumo_port: u16, server: Arc<dyn FunctionEndpoint>) {
        if let Some(network) = &self.network {
            if !network.connect(kumo_port, server) {
                tracing::warn!("Kumo's endpoint was already connected to the environments' namespaces");
            }
        }
    }

    /// `AWS_ENDPOINT_URL` for functions when they have their own network namespace
    /// (`http://127.0.0.1:<port>`); `None` when they reach Kumo at its host address.
    pub fn function_endpoint_url(&self) -> Option<String> {
        self.network.as_ref()?.endpoint_url()
    }

    /// Serves Kumo's endpoint to the environment `caller` on its namespace's listener.
    pub(crate) fn serve_endpoint(
        &self,
        listener: std::net::TcpListener,
        caller: kumo_core::CallerEnvironment,
    ) -> std::io::Result<EndpointTask> {
        match &self.network {
            Some(network) => network.serve_endpoint(listener, caller),
            None => Err(std::io::Error::other("environments have no network namespace")),
        }
    }
}
