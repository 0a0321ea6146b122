-- The indexes reads need, made when a generation is about to be served:
-- by label (sort and page by label), by template (GET /device/template/:id),
-- users by name (login, GET /auth/user/:name).
CREATE INDEX IF NOT EXISTS devices_label ON {{gen}}.devices (tenant, label, id);
CREATE INDEX IF NOT EXISTS device_template_template ON {{gen}}.device_template (tenant, template_id, device_id);
CREATE INDEX IF NOT EXISTS users_username ON {{gen}}.users (username);
CREATE INDEX IF NOT EXISTS certificates_tenant ON {{gen}}.certificates (tenant, seq);
CREATE INDEX IF NOT EXISTS certificates_device ON {{gen}}.certificates (tenant, device);
