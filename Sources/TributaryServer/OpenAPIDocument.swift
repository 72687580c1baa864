/// The status API's OpenAPI 3.1 document, served at `/api/v1/openapi.yaml`. A test validates real
/// responses against it; change both together.
enum OpenAPIDocument {
    static let yaml = #"""
openapi: 3.1.0
info:
  title: Tributary status API
  version: "1"
  description: >
    Apps, their syncs and health, pushes with what they caused, and a live stream of sync events,
    built from the Kafka topics by every `tributary server` replica. Every operation needs a bearer
    token from `server.tokens` (401 without one); actions need the operator role (403 without); a
    token sees only its projects' apps (others answer 404).
servers: [{ url: / }]
security: [{ bearer: [] }]
paths:
  /api/v1/apps:
    get:
      operationId: listApps
      summary: Every app the token's projects hold, by name.
      parameters:
        - { name: project, in: query, schema: { type: string } }
        - { name: cluster, in: query, schema: { type: string } }
        - { name: sync, in: query, description: Synced, OutOfSync or Unknown (any case), schema: { type: string } }
        - { name: health, in: query, description: Healthy, Progressing, Degraded, Suspended, Missing or Unknown, schema: { type: string } }
      responses:
        "200": { description: The apps., content: { application/json: { schema: { $ref: "#/components/schemas/AppList" } } } }
        "401": { $ref: "#/components/responses/Unauthorized" }
  /api/v1/apps/{name}:
    get:
      operationId: getApp
      summary: One app and its recent sync events, newest first.
      parameters: [{ name: name, in: path, required: true, schema: { type: string } }]
      responses:
        "200": { description: The app., content: { application/json: { schema: { $ref: "#/components/schemas/AppDetail" } } } }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "404": { $ref: "#/components/responses/NotFound" }
  /api/v1/apps/{name}/sync:
    post:
      operationId: syncApp
      summary: Ask the owning worker to sync the app now (trigger manual); the result arrives as a sync event whose changeID is requestID.
      parameters: [{ name: name, in: path, required: true, schema: { type: string } }]
      requestBody:
        required: false
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              properties:
                revision: { type: string, description: A branch, tag or SHA; default the app's targetRevision. }
                prune: { type: boolean }
                dryRun: { type: boolean, description: Compare only; the event is out-of-sync or synced. }
      responses:
        "202": { description: Published., content: { application/json: { schema: { $ref: "#/components/schemas/SyncAccepted" } } } }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "404": { $ref: "#/components/responses/NotFound" }
  /api/v1/apps/{name}/suspend:
    post:
      operationId: suspendApp
      summary: Stop the app's automated sync and self-heal on every worker until resumed.
      parameters: [{ name: name, in: path, required: true, schema: { type: string } }]
      requestBody:
        required: false
        content: { application/json: { schema: { type: object, additionalProperties: false, properties: { reason: { type: string } } } } }
      responses:
        "202": { description: Published., content: { application/json: { schema: { $ref: "#/components/schemas/ControlAccepted" } } } }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "404": { $ref: "#/components/responses/NotFound" }
  /api/v1/apps/{name}/resume:
    post:
      operationId: resumeApp
      summary: Start a suspended app's automated sync again.
      parameters: [{ name: name, in: path, required: true, schema: { type: string } }]
      responses:
        "202": { description: Published., content: { application/json: { schema: { $ref: "#/components/schemas/ControlAccepted" } } } }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "404": { $ref: "#/components/responses/NotFound" }
  /api/v1/pushes/{deliveryID}:
    get:
      operationId: getPush
      summary: A push by the Git host's delivery id, with every sync and notification it caused.
      parameters: [{ name: deliveryID, in: path, required: true, schema: { type: string } }]
      responses:
        "200": { description: The push., content: { application/json: { schema: { $ref: "#/components/schemas/Push" } } } }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "404": { $ref: "#/components/responses/NotFound" }
  /api/v1/events:
    get:
      operationId: streamEvents
      summary: "Server-sent events, one `event: sync` per sync event of the token's projects, its data a SyncSummary."
      responses:
        "200": { description: The stream., content: { text/event-stream: { schema: { type: string } } } }
        "401": { $ref: "#/components/responses/Unauthorized" }
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
  responses:
    Unauthorized: { description: No token, or an unknown one., content: { application/json: { schema: { $ref: "#/components/schemas/Error" } } } }
    Forbidden: { description: The token may only read., content: { application/json: { schema: { $ref: "#/components/schemas/Error" } } } }
    NotFound: { description: No such app or push (or not the token's project)., content: { application/json: { schema: { $ref: "#/components/schemas/Error" } } } }
  schemas:
    Error:
      type: object
      required: [error]
      properties: { error: { type: object, required: [message], properties: { message: { type: string } } } }
    AppList:
      type: object
      required: [apps]
      additionalProperties: false
      properties: { apps: { type: array, items: { $ref: "#/components/schemas/AppStatus" } } }
    AppDetail:
      type: object
      required: [app, history]
      additionalProperties: false
      properties:
        app: { $ref: "#/components/schemas/AppStatus" }
        history: { type: array, items: { $ref: "#/components/schemas/SyncSummary" } }
    AppStatus:
      type: object
      required: [app, project, destination, repository, targetRevision, syncStatus]
      additionalProperties: false
      properties:
        app: { type: string }
        project: { type: string }
        cluster: { type: string }
        destination: { type: string, description: "directory:PATH, git:URL#branch or kubernetes:CLUSTER/NAMESPACE" }
        repository: { type: string }
        targetRevision: { type: string }
        syncStatus: { type: string, enum: [Synced, OutOfSync, Unknown] }
        health: { $ref: "#/components/schemas/Health" }
        revision: { type: string, description: The revision the target holds. }
        lastSync: { $ref: "#/components/schemas/SyncSummary" }
        lastError: { $ref: "#/components/schemas/SyncSummary" }
        difference: { $ref: "#/components/schemas/Difference" }
        updatedAt: { type: string, format: date-time }
    SyncSummary:
      type: object
      required: [id, app, phase, revision, trigger, attempt, destination, startedAt, finishedAt, durationMilliseconds]
      additionalProperties: false
      properties:
        id: { type: string, description: The sync event's CloudEvents id. }
        app: { type: string }
        phase: { type: string, enum: [succeeded, failed, skipped, coalesced, drift-detected, healed, health-changed, out-of-sync, synced] }
        revision: { type: string }
        trigger: { type: string }
        attempt: { type: integer }
        destination: { type: string }
        resources: { $ref: "#/components/schemas/ResourceCounts" }
        health: { $ref: "#/components/schemas/Health" }
        difference: { $ref: "#/components/schemas/Difference" }
        message: { type: string }
        error: { $ref: "#/components/schemas/SourceError" }
        deliveryID: { type: string }
        startedAt: { type: string, format: date-time }
        finishedAt: { type: string, format: date-time }
        durationMilliseconds: { type: number }
        timings:
          type: object
          required: [fetchMilliseconds, renderMilliseconds, applyMilliseconds]
          additionalProperties: false
          properties: { fetchMilliseconds: { type: number }, renderMilliseconds: { type: number }, applyMilliseconds: { type: number } }
        pushToAppliedMilliseconds: { type: number, description: From the listener receiving the push to the event. }
    Health:
      type: object
      required: [status]
      additionalProperties: false
      properties: { status: { type: string }, message: { type: string } }
    Difference:
      type: object
      required: [create, update, delete]
      additionalProperties: false
      properties:
        create: { type: array, items: { type: string } }
        update: { type: array, items: { type: string } }
        delete: { type: array, items: { type: string } }
    ResourceCounts:
      type: object
      required: [created, updated, unchanged, pruned, orphaned]
      additionalProperties: false
      properties: { created: { type: integer }, updated: { type: integer }, unchanged: { type: integer }, pruned: { type: integer }, orphaned: { type: integer } }
    SourceError:
      type: object
      required: [file, message]
      additionalProperties: false
      properties: { file: { type: string }, line: { type: integer }, message: { type: string } }
    Push:
      type: object
      required: [deliveryID, syncs, notifications]
      additionalProperties: false
      properties:
        deliveryID: { type: string }
        changeID: { type: string }
        provider: { type: string }
        repository: { type: string }
        ref: { type: string }
        before: { type: string }
        after: { type: string }
        pusher: { type: string }
        receivedAt: { type: string, format: date-time }
        syncs: { type: array, items: { $ref: "#/components/schemas/SyncSummary" } }
        notifications:
          type: array
          items:
            type: object
            required: [sink, app, trigger, revision]
            additionalProperties: false
            properties:
              sink: { type: string }
              app: { type: string }
              trigger: { type: string }
              revision: { type: string }
              outcome: { type: string, enum: [delivered, dead-lettered, suppressed] }
              at: { type: string, format: date-time }
    SyncAccepted:
      type: object
      required: [requestID, app]
      additionalProperties: false
      properties: { requestID: { type: string }, app: { type: string } }
    ControlAccepted:
      type: object
      required: [app, suspended]
      additionalProperties: false
      properties: { app: { type: string }, suspended: { type: boolean } }
"""#
}
