//! The sandbox's side of environments' network namespaces (see `crate::network`): whether this
//! host gives them one, Kumo's endpoint served inside them, and their optional outbound access
//! (see `crate::outbound`).

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

    /// Gives every environment's namespace outbound access through a user-mode network stack
    /// (`kumo serve --function-network outbound`), after trying it on one namespace. Call before
    /// [`Sandbox::keep_parked_launchers`], within a tokio runtime. An error says why it cannot
    /// be (no namespace per environment, pasta missing or failing): Kumo then refuses to start
    /// rather than run functions without the network they were promised.
    pub fn enable_outbound_network(&mut self, state_dir: &std::path::Path) -> Result<(), String> {
        let Some(network) = &self.network else {
            let reason = self.report.reasons.get("namespaces.net").cloned().unwrap_or_default();
            return Err(format!(
                "--function-network outbound needs a network namespace per environment, which this host \
                 does not give ({reason})"
            ));
        };
        let stack = crate::outbound::OutboundStack::find(&state_dir.join("outbound"))?;
        let (namespace, _listeners) = crate::network::prepare(None)
            .map_err(|error| format!("cannot make a network namespace to try pasta in: {error}"))?;
        let link = stack.attach(&namespace).map_err(|error| format!("pasta does not work on this host: {error}"))?;
        drop(link);
        let tool = stack.tool();
        network.set_outbound(stack);
        self.report.network = "outbound";
        self.report.network_tool = Some(tool);
        tracing::info!(tool, address = crate::outbound::NAMESPACE_ADDRESS, "functions have outbound network access");
        Ok(())
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
