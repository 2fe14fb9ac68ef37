package dev.higgstrt.server;

/** A request that ends in an error status with a JSON body {@code {"error": {"message", "type"}}}. */
final class ApiError extends RuntimeException {
    final int status;
    final String type;
    final String retryAfter;

    ApiError(int status, String type, String message) {
        this(status, type, message, null);
    }

    ApiError(int status, String type, String message, String retryAfter) {
        super(message);
        this.status = status;
        this.type = type;
        this.retryAfter = retryAfter;
    }

    static ApiError badRequest(String message) {
        return new ApiError(400, "invalid_request_error", message);
    }
}
