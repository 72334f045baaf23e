/* Helpers for walking libyaml documents of outside input. */
#pragma once
#include <stdbool.h>
#include <yaml.h>

/* A scalar's text, or NULL when the node is not a scalar or holds a NUL. */
const char *bm_yaml_scalar(const yaml_node_t *n);
/* YAML null: an empty plain scalar, ~ or null. */
bool bm_yaml_is_null(const yaml_node_t *n);
/* "true"/"false" (and True/TRUE...). Returns 0 or -EINVAL. */
int bm_yaml_bool(const yaml_node_t *n, bool *ret);
