"""The QuickDumpNow API: the track, booking and dashboard handlers behind ``/api/*``.

One Lambda function (function URL / API Gateway payload 2.0); ``qdn_api.app.handler`` routes by
method and path. The local CloudFront calls the same handler in-process for its ``/api/*`` origin.
"""
