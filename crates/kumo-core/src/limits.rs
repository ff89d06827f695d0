//! Lambda's documented quotas, in one place.

/// Smallest `MemorySize` in MB.
pub const MEMORY_MIN_MB: u32 = 128;
/// Largest `MemorySize` in MB.
pub const MEMORY_MAX_MB: u32 = 10_240;
/// Default `MemorySize` in MB.
pub const MEMORY_DEFAULT_MB: u32 = 128;
/// Smallest `Timeout` in seconds.
pub const TIMEOUT_MIN_S: u32 = 1;
/// Largest `Timeout` in seconds.
pub const TIMEOUT_MAX_S: u32 = 900;
/// Default `Timeout` in seconds.
pub const TIMEOUT_DEFAULT_S: u32 = 3;
/// Smallest and largest `/tmp` size in MB.
pub const EPHEMERAL_MIN_MB: u32 = 512;
/// Largest `/tmp` size in MB.
pub const EPHEMERAL_MAX_MB: u32 = 10_240;
/// Total size of environment variables (keys + values) in bytes.
pub const ENVIRONMENT_MAX_BYTES: usize = 4096;
/// Largest zip accepted in a direct upload.
pub const ZIPPED_CODE_MAX_BYTES: u64 = 50 * 1024 * 1024;
/// Largest unzipped deployment package.
pub const UNZIPPED_CODE_MAX_BYTES: u64 = 250 * 1024 * 1024;
/// Layers a function may use.
pub const LAYERS_PER_FUNCTION_MAX: usize = 5;
/// Largest synchronous invoke payload (request and response).
pub const SYNC_PAYLOAD_MAX_BYTES: usize = 6_291_456;
/// Largest synchronous response a function may return (AWS allows 100 bytes more than requests).
pub const SYNC_RESPONSE_MAX_BYTES: usize = 6_291_556;
/// Largest response a function may stream (`InvokeWithResponseStream`; 200 MB since July 2025,
/// 20 MB before).
pub const STREAMED_RESPONSE_MAX_BYTES: usize = 200 * 1024 * 1024;
/// Largest asynchronous invoke payload (1 MB since October 2025).
pub const ASYNC_PAYLOAD_MAX_BYTES: usize = 1_048_576;
/// Largest `X-Amz-Client-Context` after base64 decoding.
pub const CLIENT_CONTEXT_MAX_BYTES: usize = 3583;
/// Default account-wide concurrency limit.
pub const ACCOUNT_CONCURRENCY_DEFAULT: u32 = 1000;
/// Bytes of log returned in `X-Amz-Log-Result`.
pub const TAIL_LOG_BYTES: usize = 4096;
