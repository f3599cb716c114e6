"""Webhooks: endpoints a tenant registers, events written in the transaction of their change, signed deliveries from the queue."""
