variable "name" {
  description = "Name of the scheduled action (unique on the target)."
  type        = string
}

variable "target" {
  description = "The scalable target: service_namespace, resource_id, scalable_dimension."
  type = object({
    service_namespace  = string
    resource_id        = string
    scalable_dimension = string
  })
}

variable "schedule" {
  description = "The schedule, validated by the parent module: schedule expression, timezone, min_capacity, max_capacity, optional start_time and end_time."
  type = object({
    schedule     = string
    timezone     = string
    min_capacity = number
    max_capacity = number
    start_time   = optional(string)
    end_time     = optional(string)
  })
}
