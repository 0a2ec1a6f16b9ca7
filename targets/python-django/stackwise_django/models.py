"""models.py: the lab's tables (db-contract: world, fortune, items) as unmanaged Django models: the lab
creates and seeds them, Django only reads and writes rows."""

from django.db import models


class World(models.Model):
    id = models.IntegerField(primary_key=True)
    randomnumber = models.IntegerField()

    class Meta:
        managed = False
        db_table = "world"


class Fortune(models.Model):
    id = models.IntegerField(primary_key=True)
    message = models.CharField(max_length=2048)

    class Meta:
        managed = False
        db_table = "fortune"


class Item(models.Model):
    id = models.BigAutoField(primary_key=True)
    name = models.CharField(max_length=200)
    price_cents = models.IntegerField()

    class Meta:
        managed = False
        db_table = "items"
