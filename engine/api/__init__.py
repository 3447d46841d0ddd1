"""The REST control API (`serve --api`): the five verbs plus list, on the serve process's aiohttp app.

`models` holds the pydantic request/response models, `views` the handlers
(aiohttp-pydantic views: the OpenAPI 3 document is generated from them),
`auth` the bearer token, `docs` the offline interactive documentation and
`server` the `serve [FILE ...] [--api] [--queue]` process.
"""
