/* regauth.h - registry credentials for `pull`, from the Docker config
 * file of the agent's own user (the `auths` that `docker login` writes).
 *
 * The credentials stay on this host: they go only into Docker's
 * X-Registry-Auth header on the local socket, never into a log line,
 * a message to the collector or an error sentence. */
#ifndef DL_AGENT_REGAUTH_H
#define DL_AGENT_REGAUTH_H

#include <stddef.h>

/* The config file is read up to this size; a larger one is ignored. */
#define DL_REGAUTH_FILE_MAX (1u << 20)
/* X-Registry-Auth values longer than this are not sent. */
#define DL_REGAUTH_HDR_MAX 8192

/* $DOCKER_CONFIG/config.json, else $HOME/.docker/config.json. */
void dl_regauth_config_path(char *out, size_t outlen);

/* The registry an image reference names: "127.0.0.1:5000" for
 * "127.0.0.1:5000/a/b:v1", "docker.io" when the first part is not a
 * host (no '.' or ':' and not "localhost"). */
void dl_regauth_registry(const char *image, char *out, size_t outlen);

/* The base64url X-Registry-Auth value for image from the config file at
 * path into out: 1 when an entry was found, 0 when there is none (no
 * file, no auths entry for the registry: the pull goes anonymous), or a
 * negative DL_E* for a file too big or not JSON. */
int dl_regauth_header(const char *path, const char *image, char *out,
		      size_t outlen);

#endif
