//! Shared by the serving layer's integration tests.

/// `impl AgentBackend for $ty` (with `#[async_trait]`) of the methods given,
/// the others (list_nodes to gpu_status) each a 404: `nope()`, which the test
/// file defines.
#[macro_export]
macro_rules! test_backend {
    ($ty:ty { $($given:tt)* }) => {
        #[async_trait::async_trait]
        impl AgentBackend for $ty {
            $($given)*
            async fn list_nodes(&self, _: &RequestContext) -> BackendResult<Value> {
                nope()
            }
            async fn get_node(&self, _: &RequestContext, _: &NodeId) -> BackendResult<Value> {
                nope()
            }
            async fn list_tasks(&self, _: &RequestContext) -> BackendResult<Value> {
                nope()
            }
            async fn get_task(&self, _: &RequestContext, _: &TaskId) -> BackendResult<Value> {
                nope()
            }
            async fn list_serve_applications(&self, _: &RequestContext) -> BackendResult<Value> {
                nope()
            }
            async fn get_serve_application(
                &self,
                _: &RequestContext,
                _: &ServeAppName,
            ) -> BackendResult<Value> {
                nope()
            }
            async fn delete_serve_application(
                &self,
                _: &RequestContext,
                _: &ServeAppName,
            ) -> BackendResult<()> {
                nope()
            }
            async fn list_plugin_releases(&self, _: &RequestContext) -> BackendResult<Value> {
                nope()
            }
            async fn get_plugin_release(
                &self,
                _: &RequestContext,
                _: &PluginLookup,
            ) -> BackendResult<Value> {
                nope()
            }
            async fn create_plugin_release(
                &self,
                _: &RequestContext,
                _: Value,
            ) -> BackendResult<Value> {
                nope()
            }
            async fn delete_plugin_release(
                &self,
                _: &RequestContext,
                _: &PluginLookup,
            ) -> BackendResult<()> {
                nope()
            }
            async fn run_plugin_release(
                &self,
                _: &RequestContext,
                _: &PluginLookup,
                _: Value,
            ) -> BackendResult<Value> {
                nope()
            }
            async fn run_debug_plugin_release(
                &self,
                _: &RequestContext,
                _: Value,
            ) -> BackendResult<Value> {
                nope()
            }
            async fn gpu_status(&self, _: &RequestContext) -> BackendResult<Value> {
                nope()
            }
        }
    };
}
