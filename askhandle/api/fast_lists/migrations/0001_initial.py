from django.db import migrations, models


class Migration(migrations.Migration):
    # The triggers are not installed here: askhandle/api/fast_lists/apps.py installs (and
    # verifies) them after every `migrate`, from the one declaration in triggers.py.
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="DataVersion",
            fields=[
                ("account_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("token", models.BigIntegerField()),
            ],
        ),
        migrations.CreateModel(
            name="DayCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("table_name", models.CharField(max_length=63)),
                ("account_id", models.BigIntegerField()),
                ("scope", models.BigIntegerField(default=0)),
                ("day", models.DateField()),
                ("n", models.IntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("table_name", "account_id", "scope", "day"), name="day_count_key"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="GroupVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("table_name", models.CharField(max_length=63)),
                ("group_id", models.BigIntegerField()),
                ("token", models.BigIntegerField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("table_name", "group_id"), name="group_version_key"
                    )
                ],
            },
        ),
    ]
